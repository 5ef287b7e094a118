"""The embedded Redis launcher: a real server that starts, stops, restarts and never outlives us."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

import psutil  # type: ignore[import-untyped,unused-ignore]  # no stubs shipped
import pytest
import redis

from caseload import embedded_redis
from caseload.embedded_redis import EmbeddedRedis, find_server_binary, free_port

pytestmark = pytest.mark.slow


def gone(pid: int) -> bool:
    """True once the process no longer exists (a zombie left to init counts as gone)."""
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def ping(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=2)
    try:
        return bool(client.ping())
    finally:
        client.close()


@pytest.fixture
def server() -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis() as started:
        yield started


def test_find_server_binary_is_executable() -> None:
    binary = find_server_binary()
    assert os.access(binary, os.X_OK)
    assert pathlib.Path(binary).name in {"redis-server", "valkey-server"}


def test_find_server_binary_explains_when_there_is_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    monkeypatch.setattr(importlib.util, "find_spec", lambda _name: None)
    with pytest.raises(RuntimeError, match="redis-server"):
        find_server_binary()


def test_free_port_can_be_bound() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_started_server_answers_ping_on_loopback_only(server: EmbeddedRedis) -> None:
    assert server.url == f"redis://127.0.0.1:{server.port}/0"
    assert ping(server.url)
    assert server.pid is not None
    listening = [
        conn.laddr
        for conn in psutil.Process(server.pid).net_connections(kind="inet")
        if conn.status == psutil.CONN_LISTEN
    ]
    assert listening
    assert {address.ip for address in listening} == {"127.0.0.1"}
    assert {address.port for address in listening} == {server.port}


def test_server_runs_in_its_own_process_group(server: EmbeddedRedis) -> None:
    assert server.pid is not None
    # So a Ctrl-C in the terminal does not take Redis down before the API stops.
    assert os.getpgid(server.pid) == server.pid != os.getpgid(0)


def test_stop_leaves_no_process_and_is_idempotent() -> None:
    server = EmbeddedRedis()
    server.start()
    pid = server.pid
    assert pid is not None
    server.stop()
    assert gone(pid)
    assert server.pid is None
    server.stop()


def test_stop_after_the_server_died_on_its_own(server: EmbeddedRedis) -> None:
    pid = server.pid
    assert pid is not None
    os.kill(pid, signal.SIGINT)  # what a Ctrl-C to its process group would do
    assert wait_gone(pid)
    server.stop()
    assert server.pid is None


def test_restart_keeps_the_port_and_forgets_the_data(server: EmbeddedRedis) -> None:
    client = redis.Redis.from_url(server.url)
    client.set("k", "v")
    port, url, old_pid = server.port, server.url, server.pid
    assert old_pid is not None
    server.restart()
    assert (server.port, server.url) == (port, url)
    assert server.pid != old_pid
    assert gone(old_pid)
    assert ping(url)
    assert client.get("k") is None  # no persistence: a fresh, empty server
    client.close()


def test_server_started_from_a_short_lived_thread_outlives_that_thread() -> None:
    server = EmbeddedRedis()
    starter = threading.Thread(target=server.start)
    starter.start()
    starter.join()
    try:
        time.sleep(0.5)  # a parent-death signal tied to the thread would have fired
        assert ping(server.url)
    finally:
        server.stop()


def test_start_fails_with_the_server_log_when_the_port_is_taken(
    tmp_path: pathlib.Path,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = EmbeddedRedis(port=port, log_path=tmp_path / "redis.log")
        with pytest.raises(RuntimeError, match="exited with code") as raised:
            server.start()
    assert "Address already in use" in str(raised.value)
    assert server.pid is None


def test_log_path_and_data_dir_are_used(tmp_path: pathlib.Path) -> None:
    log_path = tmp_path / "logs" / "redis.log"
    with EmbeddedRedis(data_dir=tmp_path / "data", log_path=log_path) as server:
        assert ping(server.url)
    assert (tmp_path / "data").is_dir()
    assert log_path.read_text().strip()
    assert not list((tmp_path / "data").iterdir())  # nothing persisted


def test_server_dies_when_its_parent_is_killed(tmp_path: pathlib.Path) -> None:
    # A data_dir of our own: the killed parent cannot remove its temporary one.
    script = textwrap.dedent(
        """
        import pathlib, sys, time
        from caseload.embedded_redis import EmbeddedRedis

        server = EmbeddedRedis(data_dir=pathlib.Path(sys.argv[1]))
        server.start()
        print(server.pid, flush=True)
        time.sleep(60)
        """
    )
    # The child imports caseload from the same tree as this test, installed or not.
    project = pathlib.Path(embedded_redis.__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(project)}
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        server_pid = int(line)
        assert not gone(server_pid)
    finally:
        parent.kill()
        parent.wait()
    assert wait_gone(server_pid, timeout=5.0)
