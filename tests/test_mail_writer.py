"""The file backend's writer process: a batch's .eml files written by a child of the worker,
the same files the worker writes itself; nothing lost when the child dies (mid-batch too); a
batch it cannot write goes back message by message; and the child ends with its worker."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest

from caseload.mail import FileTransport, Mail
from caseload.mail_message import eml_name, write_eml
from caseload.mail_writer import CHILD_BATCH, WriterProcess
from caseload.redis import connect, make_services
from models import ClientImport, OutboxMessage, OutboxStatus
from resolvers.imports.runner import run_import
from tests.support import REPO, Api, mail_files, many, read_mail, sign_up_provider, start_import
from workers.outbox import deliver_many

pytestmark = pytest.mark.slow  # starts processes

SENDER = "Caseload <no-reply@caseload.invalid>"


def _mails(count: int, tag: str = "w") -> list[Mail]:
    made = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
    return [
        Mail(
            to=f"person{i}@writer-{tag}.org",
            subject="You are invited",
            text=f"Hello {i}, your link: https://caseload.invalid/accept?t={'x' * 43}\n",
            message_id=f"{tag}-{i:05d}",
            created_at=made + timedelta(microseconds=i),
        )
        for i in range(count)
    ]


def _gone(pid: int, limit: float = 10.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def _headers(path: Path) -> dict[str, str]:
    message = read_mail(path)
    return {k: str(v) for k, v in message.items() if k != "Date"} | {"body": message.get_content()}


async def test_a_batch_is_written_by_the_child_as_the_worker_writes_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    writer = WriterProcess(tmp_path / "child", SENDER)
    try:
        pid = await writer.start()
        assert pid is not None and pid != os.getpid()
        assert "caseload.mail_writer" in psutil.Process(pid).cmdline()
        mails = _mails(CHILD_BATCH + 5)
        with caplog.at_level(logging.WARNING, logger="caseload.mail_writer"):
            errors = await writer.write(mails)
        assert errors == [None] * len(mails) and not caplog.records  # the child answered
        assert writer.pid == pid
    finally:
        await writer.close()
    assert _gone(pid)  # close() ends it
    for mail in mails:
        write_eml(tmp_path / "here", SENDER, mail)
    written = sorted(p.name for p in (tmp_path / "child").iterdir())
    assert written == sorted(eml_name(mail) for mail in mails)
    for name in written:
        assert _headers(tmp_path / "child" / name) == _headers(tmp_path / "here" / name)


async def test_a_small_batch_is_written_in_the_worker_and_starts_no_child(tmp_path: Path) -> None:
    writer = WriterProcess(tmp_path, SENDER)
    errors = await writer.write(_mails(CHILD_BATCH - 1))
    assert errors == [None] * (CHILD_BATCH - 1) and writer.pid is None
    assert len(list(tmp_path.glob("*.eml"))) == CHILD_BATCH - 1


async def test_a_child_killed_mid_batch_loses_nothing_and_the_next_batch_has_a_new_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    writer = WriterProcess(tmp_path, SENDER)
    try:
        pid = await writer.start()
        assert pid is not None
        mails = _mails(3000, "big")  # a few seconds of writing for the child
        batch = asyncio.ensure_future(writer.write(mails))
        while len(list(tmp_path.glob("*.eml"))) < 50:  # the child is part way through
            await asyncio.sleep(0.01)
        os.kill(pid, signal.SIGKILL)
        with caplog.at_level(logging.WARNING, logger="caseload.mail_writer"):
            errors = await batch
        assert errors == [None] * len(mails)
        assert [r.getMessage() for r in caplog.records] == [
            "mail writer process stopped; its batch is written here"
        ]
        names = sorted(p.name for p in tmp_path.iterdir())
        assert names == sorted(eml_name(mail) for mail in mails)  # no .tmp left
        replaced = await writer.start()
        assert replaced is not None and replaced != pid
        assert await writer.write(_mails(CHILD_BATCH, "after")) == [None] * CHILD_BATCH
        assert writer.pid == replaced
    finally:
        await writer.close()


async def test_the_child_ends_when_its_worker_is_killed(tmp_path: Path) -> None:
    """The worker killed (nothing of it runs to stop the child): the child sees its stdin end."""
    program = textwrap.dedent(
        f"""
        import asyncio
        from pathlib import Path
        from caseload.mail_writer import WriterProcess

        async def main():
            writer = WriterProcess(Path({str(tmp_path)!r}), "x <x@caseload.invalid>")
            print(await writer.start(), flush=True)
            await asyncio.sleep(600)

        asyncio.run(main())
        """
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", program], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert worker.stdout is not None
        child = int(worker.stdout.readline())
        assert psutil.Process(child).ppid() == worker.pid
    finally:
        worker.kill()
        worker.wait()
    assert _gone(child)


async def _invitation_ids(count: int, api: Api) -> list[object]:
    token, _ = await sign_up_provider(api)
    await start_import(api, token, many(count), sendInvitations=True)
    redis = await connect(api.settings.redis_url or "")
    try:
        await run_import(make_services(api.settings, redis), (await ClientImport.get()).id, "t")
    finally:
        await redis.aclose()
    return list(
        await OutboxMessage.filter(import_id__isnull=False)
        .order_by("id")
        .values_list("id", flat=True)
    )


async def _deliver_through_the_child(api: Api, ids: list[object]) -> Counter[str]:
    """deliver_many with the file backend's writer child up from the first batch."""
    transport = FileTransport(api.settings)
    redis = await connect(api.settings.redis_url or "")
    try:
        assert await transport.writer.start() is not None
        return await deliver_many(make_services(api.settings, redis), transport, ids)
    finally:
        await transport.close()
        await redis.aclose()


async def test_an_import_s_invitations_go_through_the_child_each_written_once(api: Api) -> None:
    total = 250
    ids = await _invitation_ids(total, api)
    earlier = set(mail_files(api.settings))  # the provider's confirmation
    outcome = await _deliver_through_the_child(api, ids)
    assert outcome["sent"] == total
    files = sorted(set(mail_files(api.settings)) - earlier)
    assert sorted(str(read_mail(p)["Message-ID"]) for p in files) == sorted(
        f"<{i}@caseload.invalid>" for i in ids
    )
    assert await OutboxMessage.filter(id__in=ids, status=OutboxStatus.SENT).count() == total


async def test_a_batch_the_child_cannot_write_goes_back_for_a_retry(api: Api) -> None:
    """The mail folder is a file: every write of the batch fails, each message on its own."""
    total = 120
    ids = await _invitation_ids(total, api)
    folder = api.settings.mail_dir
    for path in mail_files(api.settings):
        path.unlink()
    folder.rmdir()
    folder.write_text("not a folder")
    try:
        outcome = await _deliver_through_the_child(api, ids)
    finally:
        folder.unlink()
    assert outcome["sent"] == 0 and outcome["retry"] == total
    rows = await OutboxMessage.filter(id__in=ids).values_list("status", "attempts", "last_error")
    assert set(rows) == {(OutboxStatus.PENDING, 1, "NotADirectoryError")}
