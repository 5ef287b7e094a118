"""Reading and validating a file's rows in a child process, so that parsing and writing use two cores."""

# The parent (an import worker) spends about as much CPU reading and validating rows as it
# does writing them, and both hold the GIL; a child process of its own gives the reading
# the machine's other core. The child is this module run as a program: it reads the same
# open file (its descriptor is inherited; FileSource reads by position, so the two never
# share an offset), runs iter_rows, and streams the rows back in pickled chunks through a
# pipe. The pipe is the back-pressure: the child blocks once it is a few chunks ahead, and
# exits on the broken pipe when the parent stops reading or dies.

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pickle
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from importing.errors import ImportFileError
from importing.files import iter_rows
from importing.model import ClientRow, FilePlan, RowError
from importing.plans import plan_from_json, plan_to_json
from importing.source import FileSource

CHUNK_ROWS = 250
# How far ahead the child may read: the pipe's capacity (Linux allows 1 MiB unprivileged),
# some ten thousand rows, so the child never waits on a batch being written.
PIPE_BYTES = 1 << 20
_HEADER = struct.Struct("!I")
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])


class ChildRowsFailed(RuntimeError):
    """The child reading the rows stopped without finishing (it names the error type only)."""


@contextlib.contextmanager
def rows_in_child(
    source: FileSource, plan: FilePlan, *, start_after: int = 0, phone_region: str = "US"
) -> Iterator[Iterator[ClientRow | RowError]]:
    """iter_rows(source, plan, ...) read in a child process: the same rows in the same order,
    and the same ImportFileError where iter_rows raises one. Leaving the block stops the child."""
    read_fd, write_fd = os.pipe()
    with contextlib.suppress(OSError):  # a smaller pipe only means less reading ahead
        fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "importing.child_rows", str(source.fd), str(write_fd)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            pass_fds=(source.fd, write_fd),
            env={**os.environ, "PYTHONPATH": _python_path()},
        )
    except BaseException:
        os.close(read_fd)
        os.close(write_fd)
        raise
    os.close(write_fd)
    stream = os.fdopen(read_fd, "rb")
    try:
        assert child.stdin is not None
        with child.stdin:
            request = {
                "plan": plan_to_json(plan),
                "start_after": start_after,
                "region": phone_region,
            }
            child.stdin.write(json.dumps(request).encode())
        yield _received(stream)
    finally:
        stream.close()  # a child still reading meets a broken pipe; kill spares it the wait
        child.kill()
        child.wait()


def _python_path() -> str:
    known = os.environ.get("PYTHONPATH", "")
    return os.pathsep.join(p for p in (_PACKAGE_ROOT, known) if p)


def _received(stream: BinaryIO) -> Iterator[ClientRow | RowError]:
    while True:
        header = stream.read(_HEADER.size)
        if len(header) < _HEADER.size:
            raise ChildRowsFailed("the row reader stopped before the end of the file")
        # Written by our own child on a pipe nobody else holds.
        kind, payload = pickle.loads(_exactly(stream, _HEADER.unpack(header)[0]))  # noqa: S301
        if kind == "rows":
            yield from payload
        elif kind == "end":
            return
        elif kind == "file-error":
            code, message, missing, found = payload
            raise ImportFileError(code, message, missing_columns=missing, found_columns=found)
        else:
            raise ChildRowsFailed(f"the row reader failed ({payload})")


def _exactly(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise ChildRowsFailed("the row reader stopped in the middle of a chunk")
    return data


def _send(out: BinaryIO, kind: str, payload: Any) -> None:
    data = pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_HEADER.pack(len(data)))
    out.write(data)


def _serve(source_fd: int, out_fd: int) -> None:
    """The child: read the request on stdin, stream the rows to out_fd."""
    request = json.loads(sys.stdin.buffer.read())
    plan = plan_from_json(request["plan"])
    assert plan is not None, "the parent sends a plan of the current version"
    start_after, phone_region = int(request["start_after"]), str(request["region"])
    with os.fdopen(source_fd, "rb") as file, os.fdopen(out_fd, "wb") as out:
        try:
            rows = iter_rows(
                FileSource(file), plan, start_after=start_after, phone_region=phone_region
            )
            chunk: list[ClientRow | RowError] = []
            for row in rows:
                chunk.append(row)
                if len(chunk) >= CHUNK_ROWS:
                    _send(out, "rows", chunk)
                    out.flush()
                    chunk = []
            if chunk:
                _send(out, "rows", chunk)
        except ImportFileError as error:
            found = (error.code, error.message, error.missing_columns, error.found_columns)
            _send(out, "file-error", found)
        except Exception as error:  # noqa: BLE001 - the parent raises it; no value named
            _send(out, "failed", type(error).__name__)
        else:
            _send(out, "end", None)


if __name__ == "__main__":
    try:
        _serve(int(sys.argv[1]), int(sys.argv[2]))
    except BrokenPipeError:  # the parent stopped reading: nothing more is wanted
        os._exit(0)
