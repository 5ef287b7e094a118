"""The `caseload` command: serve (embedded default), worker, migrate and operator tools."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from caseload import operator_cli
from caseload.db import apply_migrations, close_db, init_db
from caseload.embedded_redis import EmbeddedRedis, embedded_redis_for
from caseload.logs import configure_logging
from caseload.priority import lower_priority
from caseload.settings import Settings, get_settings
from caseload.sqlite_writes import defer_to_requests
from caseload.supervisor import WorkerSupervisor
from models.forms import FormKind

if TYPE_CHECKING:
    import uvicorn

log = logging.getLogger("caseload")


def _child_env(settings: Settings, redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["CASELOAD_REDIS_URL"] = redis_url
    env["CASELOAD_DATA_DIR"] = str(settings.data_dir.resolve())
    return env


def _stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def serve(settings: Settings, *, workers: int = 1) -> int:
    """API, supervised arq workers and (unless URLs are set) SQLite and an embedded Redis."""
    from caseload.embedded_redis import die_with_parent

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    embedded: EmbeddedRedis | None = None
    supervisor: WorkerSupervisor | None = None
    apis: WorkerSupervisor | None = None
    listener: socket.socket | None = None
    stopping = threading.Event()
    # uvicorn re-raises the SIGTERM it caught once it has shut down; by default that would
    # end the process before the cleanup below (workers stopped, embedded Redis stopped).
    signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        redis_url = settings.redis_url
        if not redis_url:
            embedded = embedded_redis_for(settings)
            redis_url = embedded.start()
            log.info("embedded Redis on port %d", embedded.port)
        asyncio.run(apply_migrations(settings))
        env = _child_env(settings, redis_url)

        def start_worker() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                [sys.executable, "-m", "caseload.cli", "worker"],
                env=env,
                preexec_fn=die_with_parent(),
            )

        app_settings = settings.model_copy(update={"redis_url": redis_url})
        processes = settings.resolved_api_processes()
        server = _api_server(app_settings) if processes == 1 else None
        supervisor = WorkerSupervisor(
            start_worker,
            workers,
            stop_process=_stop,
            # Ctrl-C reaches the workers too: a worker stopping then is not restarted.
            shutting_down=lambda: stopping.is_set() or bool(server and server.should_exit),
            # With our own Redis no other worker writes the heartbeat: clear the dead one's
            # at once, so /readyz says so now rather than when the key expires.
            on_all_dead=(lambda: _forget_heartbeat(redis_url)) if embedded else None,
        )
        supervisor.start()
        print(f"Caseload GraphQL at http://{settings.host}:{settings.port}/graphql", flush=True)
        if server is not None:
            # uvicorn re-raises the Ctrl-C it handled once it has shut down
            with contextlib.suppress(KeyboardInterrupt):
                server.run()
        else:
            listener = socket.create_server((settings.host, settings.port), backlog=2048)
            apis = _api_processes(listener, processes, env, stopping)
            apis.start()
            # Ctrl-C reaches every process of the group: each API process stops on its own
            with contextlib.suppress(KeyboardInterrupt):
                while not stopping.wait(0.5):
                    pass
    finally:
        stopping.set()
        if apis is not None:
            apis.stop()
        if listener is not None:
            listener.close()
        if supervisor is not None:
            supervisor.stop()
        if embedded is not None:
            embedded.stop()
    return 0


KEEP_ALIVE_SECONDS = 30


def _api_server(settings: Settings) -> uvicorn.Server:
    import uvicorn

    from caseload.app import create_app

    return uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_level="info",
            access_log=False,  # request lines can carry ids in query strings; keep logs lean
            ws="websockets-sansio",
            # X-Forwarded-For is believed only from CASELOAD_TRUSTED_PROXIES (graphql_view),
            # never by uvicorn on its own (it would trust any process on loopback)
            proxy_headers=False,
            # Longer than a client's idle keep-alive (httpx and many pools keep 5 s, uvicorn's
            # default too): a connection the server closes just as the client reuses it
            # fails that request (ReadError) with nothing the client could have known.
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
    )


def _api_processes(
    listener: socket.socket, count: int, env: dict[str, str], stopping: threading.Event
) -> WorkerSupervisor:
    """`count` API processes accepting on one listening socket, supervised like the workers.

    The socket is bound once, by `serve`, and inherited: the kernel hands each connection to
    one of the processes. Each has its own database connections, Redis pool and pub/sub
    connection; everything they share is in the database and Redis (DESIGN §1).
    """
    from caseload.embedded_redis import die_with_parent

    fd = listener.fileno()

    def start_api() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "caseload.cli", "serve-api", "--fd", str(fd)],
            env=env,
            pass_fds=(fd,),
            preexec_fn=die_with_parent(),
        )

    return WorkerSupervisor(
        start_api, count, stop_process=_stop, shutting_down=stopping.is_set, role="API"
    )


def serve_api(settings: Settings, fd: int) -> int:
    """One API process of `caseload serve`, on the listening socket it inherited."""
    server = _api_server(settings)
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[socket.socket(fileno=fd)])
    return 0


def _forget_heartbeat(redis_url: str) -> None:
    import redis

    from workers.settings import HEALTH_CHECK_KEY

    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        client.delete(HEALTH_CHECK_KEY)
    finally:
        client.close()


def _exit_cleanly(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def _exit_if_driver_threads_linger() -> None:
    """A database driver thread left behind must not keep a stopped worker alive."""
    lingering = [
        t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon
    ]
    if lingering:
        log.warning("worker stopped with %d driver threads still open; exiting", len(lingering))
        logging.shutdown()
        os._exit(0)


def worker(settings: Settings, *, burst: bool = False) -> int:
    from workers.settings import build_worker

    if not settings.redis_url:
        print(
            "CASELOAD_REDIS_URL is not set (`caseload serve` sets it for its worker).",
            file=sys.stderr,
        )
        return 2

    # imports and deliveries can wait a moment; a person's request is served first, for the
    # SQLite write lock and for the CPU
    defer_to_requests()
    lower_priority(settings.worker_niceness)

    async def main() -> None:
        instance = build_worker(settings, settings.redis_url or "", burst=burst)
        try:
            await instance.async_run()
        except asyncio.CancelledError:
            pass  # arq cancels its main task on SIGINT/SIGTERM: a normal stop
        finally:
            await instance.close()
            await close_db()

    try:
        asyncio.run(main())
    finally:
        _exit_if_driver_threads_linger()
    return 0


def migrate(settings: Settings) -> int:
    asyncio.run(apply_migrations(settings))
    print("Migrations applied.")
    return 0


def create_staff(settings: Settings, email: str) -> int:
    from resolvers.accounts.authentication import create_staff as make_staff

    password = os.environ.get("CASELOAD_STAFF_PASSWORD") or getpass.getpass("Password: ")

    async def run() -> str:
        user = await make_staff(email, password, settings=settings)
        return f"Staff account {user.id} created."

    return _run_use_case(settings, run)


def publish_form(settings: Settings, kind: str, path: str) -> int:
    """A new version of a standard form; clients acknowledge it again."""
    from resolvers.onboarding.forms import publish_form as publish

    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        print(f"cannot read {path}: {error}", file=sys.stderr)
        return 1

    async def run() -> str:
        document = await publish(FormKind(kind), text)
        return f"Published {document.kind.value} version {document.version} ({document.id})."

    return _run_use_case(settings, run)


def _run_use_case(settings: Settings, use_case: Callable[[], Awaitable[str]]) -> int:
    """Migrate, open the database, run one use case and print its outcome or input problems."""
    from resolvers.errors import InvalidInput

    async def run() -> int:
        await apply_migrations(settings)
        await init_db(settings)
        try:
            print(await use_case())
        except InvalidInput as error:
            for problem in error.fields:
                print(f"{problem.field}: {problem.message}", file=sys.stderr)
            return 1
        finally:
            await close_db()
        return 0

    return asyncio.run(run())


def export_schema(settings: Settings) -> int:
    from schema.root import build_schema

    print(build_schema(settings).as_str())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="caseload", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="run the API with one worker (embedded default)")
    serve_cmd.add_argument("--workers", type=int, default=1, help="arq worker processes")
    api_cmd = commands.add_parser("serve-api", help="one API process of `serve` (internal)")
    api_cmd.add_argument("--fd", type=int, required=True, help="the inherited listening socket")
    worker_cmd = commands.add_parser("worker", help="run an arq worker")
    worker_cmd.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    commands.add_parser("migrate", help="apply database migrations")
    staff = commands.add_parser("create-staff", help="make a staff account")
    staff.add_argument("email")
    commands.add_parser("export-schema", help="print the GraphQL SDL")
    form = commands.add_parser(
        "publish-form", help="publish a new version of a standard form (first line = title)"
    )
    form.add_argument("kind", type=str.upper, choices=[k.value for k in FormKind])
    form.add_argument("file", help="UTF-8 text file: the title line, then the body")
    operator_cli.add_commands(commands)
    return parser


# How long a busy thread keeps the GIL before a waiting one may take it (CPython's default is
# 5 ms). Every SQLite statement hops to aiosqlite's thread and back: with the default, a
# transaction of hundreds of statements waits seconds for the GIL while the event loop works.
GIL_SWITCH_SECONDS = 0.0005


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
    settings = get_settings()
    configure_logging()
    if args.command == "serve":
        return serve(settings, workers=args.workers)
    if args.command == "serve-api":
        return serve_api(settings, args.fd)
    if args.command == "worker":
        return worker(settings, burst=args.burst)
    if args.command == "migrate":
        return migrate(settings)
    if args.command == "create-staff":
        return create_staff(settings, args.email)
    if args.command == "export-schema":
        return export_schema(settings)
    if args.command == "publish-form":
        return publish_form(settings, args.kind, args.file)
    if args.command in operator_cli.COMMANDS:
        return operator_cli.run(settings, args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
