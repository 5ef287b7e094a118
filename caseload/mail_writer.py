"""The file backend's writer process: a batch's .eml files built and written on another core.

Building a message with the email package and writing its file is most of what an
invitation costs the worker (in the profile of a 2,000-row import with invitations, two thirds
of the worker's main thread), and the rest (claiming, links, settling, the import's own rows)
waited behind it on the same core. A batch handed to this process is written while the worker
claims, renders and settles the others, as an import's rows are read in a child of their own
(importing/child_rows.py).

The child is this module run as a program: batches of mails come in on its stdin and
each batch's errors go back on its stdout, as length-prefixed pickles on pipes only the two
hold. It starts with the first batch big enough to pay for it (that batch, and any while the
child starts, are written in the worker as before), and ends on its stdin's end: when the
worker closes it or dies. If the child dies, the batch it held is written in the worker (a
file written twice replaces itself: names are per outbox row) and the next batch starts a new
child.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import signal
import struct
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

from caseload.mail_message import Mail, write_emls

log = logging.getLogger(__name__)

# Fewer e-mails than this are written in the worker: a sign-up's confirmation never waits
# for the child, nor starts one.
CHILD_BATCH = 20
_HEADER = struct.Struct("!I")
_READY = b"ready"
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])


class WriterProcess:
    """One child process writing batches of .eml files into `directory`, one at a time."""

    def __init__(self, directory: Path, sender: str) -> None:
        self.directory = directory
        self.sender = sender
        self._child: asyncio.subprocess.Process | None = None
        self._starting: asyncio.Task[None] | None = None
        self._turn = asyncio.Lock()

    async def write(self, mails: Sequence[Mail]) -> list[str | None]:
        """Each mail written (see caseload.mail_message.write_emls)."""
        child = await self._ready() if len(mails) >= CHILD_BATCH else None
        if child is not None:
            async with self._turn:
                # the child may have failed another batch while this one waited its turn
                if child is self._child:
                    try:
                        return await self._ask(child, list(mails))
                    except (OSError, EOFError, asyncio.IncompleteReadError, pickle.PickleError):
                        log.warning("mail writer process stopped; its batch is written here")
                        self._drop(child)
                    except BaseException:
                        self._drop(child)  # cancelled mid-batch: its answer would pass for the next
                        raise
        return write_emls(self.directory, self.sender, mails)

    async def start(self) -> int | None:
        """Start the child now and wait until it is up: its pid, or None if it could not."""
        child = await self._ready()
        if child is None and self._starting is not None:
            with contextlib.suppress(Exception):  # None below says it
                await self._starting
            child = await self._ready()
        return child.pid if child is not None else None

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    async def _ask(self, child: asyncio.subprocess.Process, mails: list[Mail]) -> list[str | None]:
        assert child.stdin is not None and child.stdout is not None
        data = pickle.dumps(mails, protocol=pickle.HIGHEST_PROTOCOL)
        child.stdin.write(_HEADER.pack(len(data)) + data)
        await child.stdin.drain()
        errors: list[str | None] = pickle.loads(await _frame(child.stdout))  # noqa: S301 - our child's pipe
        return errors

    async def _ready(self) -> asyncio.subprocess.Process | None:
        """The child once it is up; None while it starts (or if it could not)."""
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._start())
            return None
        if not self._starting.done():
            return None
        if self._starting.cancelled() or self._starting.exception() or self._child is None:
            self._starting = None  # try again with the next batch
            return None
        if self._child.returncode is not None:
            self._drop(self._child)
            return None
        return self._child

    async def _start(self) -> None:
        known = os.environ.get("PYTHONPATH", "")
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "caseload.mail_writer",
            str(self.directory),
            self.sender,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={
                **os.environ,
                "PYTHONPATH": os.pathsep.join(p for p in (_PACKAGE_ROOT, known) if p),
            },
        )
        assert child.stdout is not None
        try:
            if await _frame(child.stdout) != _READY:
                raise EOFError("the mail writer did not start")
        except BaseException:
            await _stop(child)
            raise
        self._child = child

    def _drop(self, child: asyncio.subprocess.Process) -> None:
        """A child that failed: killed (if it still runs) and replaced by the next batch."""
        if self._child is child:
            self._child, self._starting = None, None
        if child.returncode is None:
            # os.kill, not child.kill(): Popen's kill first polls, which can reap the child
            # before asyncio's watcher does (which then warns of an unknown child)
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGKILL)

    async def close(self) -> None:
        """Stop the child (it ends on its stdin's end); a start under way is waited for."""
        if self._starting is not None and not self._starting.done():
            with contextlib.suppress(Exception):
                await self._starting
        child, self._child, self._starting = self._child, None, None
        if child is not None:
            await _stop(child)


async def _frame(stream: asyncio.StreamReader) -> bytes:
    (size,) = _HEADER.unpack(await stream.readexactly(_HEADER.size))
    return await stream.readexactly(size)


async def _stop(child: asyncio.subprocess.Process) -> None:
    if child.stdin is not None:
        child.stdin.close()
    try:
        await asyncio.wait_for(child.wait(), 5)
    except TimeoutError:
        child.kill()
        await child.wait()


def _read_frame(stream: BinaryIO) -> bytes | None:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None  # the worker closed the pipe, or died
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    return data if len(data) == size else None


def _send(out: BinaryIO, payload: bytes) -> None:
    out.write(_HEADER.pack(len(payload)) + payload)
    out.flush()


def _serve(directory: Path, sender: str) -> None:
    """The child: write each batch read on stdin; answer its errors on stdout."""
    source, out = sys.stdin.buffer, sys.stdout.buffer
    _send(out, _READY)
    while (data := _read_frame(source)) is not None:
        mails: Any = pickle.loads(data)  # noqa: S301 - the worker's pipe, no one else's
        _send(out, pickle.dumps(write_emls(directory, sender, mails)))


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):
        _serve(Path(sys.argv[1]), sys.argv[2])
