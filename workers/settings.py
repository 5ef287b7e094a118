"""arq WorkerSettings: the job functions, the cron sweeper, and per-process start-up."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from arq import cron, func
from arq.constants import default_queue_name, health_check_key_suffix
from arq.worker import Worker

from caseload.db import close_db, init_db
from caseload.mail import make_transport
from caseload.redis import make_services, redis_settings
from caseload.settings import Settings
from resolvers.effects import Job
from workers.imports import (
    MAX_TRIES,
    ImportSlots,
    run_import_job,
    sweep_imports,
)
from workers.outbox import deliver_outbox, deliver_outbox_batch, sweep_outbox
from workers.reminders import remind_onboarding

log = logging.getLogger(__name__)

EVERY_FIVE_SECONDS = set(range(0, 60, 5))

# Every worker writes arq's health-check key this often; it expires one second later, so
# `/readyz` knows within HEALTH_CHECK_SECONDS + 1 that no worker is alive.
HEALTH_CHECK_SECONDS = 5
HEALTH_CHECK_KEY = default_queue_name + health_check_key_suffix


def build_worker(
    settings: Settings, redis_url: str, *, own_database: bool = True, **overrides: Any
) -> Worker:
    """A worker; `own_database=False` shares the caller's Tortoise (tests run one in-process)."""

    async def startup(ctx: dict[str, Any]) -> None:
        if own_database:
            await init_db(settings)
        ctx["settings"] = settings
        ctx["services"] = make_services(settings, ctx["redis"])
        ctx["transport"] = make_transport(settings)
        ctx["worker_id"] = uuid.uuid4().hex
        ctx["import_slots"] = ImportSlots(settings.worker_import_slots)

    async def shutdown(ctx: dict[str, Any]) -> None:
        if "transport" in ctx:
            await ctx["transport"].close()  # the file backend's writer process
        if own_database:
            await close_db()

    options: dict[str, Any] = {
        "functions": [
            func(deliver_outbox, name=Job.DELIVER_OUTBOX),
            func(deliver_outbox_batch, name=Job.DELIVER_OUTBOX_BATCH),
            func(run_import_job, name=Job.RUN_IMPORT, max_tries=MAX_TRIES, timeout=6 * 3600),
            func(
                run_import_job,
                name=Job.RUN_IMPORT_LATER,
                max_tries=MAX_TRIES,
                timeout=6 * 3600,
                keep_result=0,
            ),
        ],
        "cron_jobs": [
            cron(sweep_outbox, second=EVERY_FIVE_SECONDS, run_at_startup=True, unique=True),
            cron(sweep_imports, second=EVERY_FIVE_SECONDS, run_at_startup=True, unique=True),
            cron(remind_onboarding, minute={0}, second={30}, unique=True, timeout=600),
        ],
        "redis_settings": redis_settings(redis_url),
        "on_startup": startup,
        "on_shutdown": shutdown,
        "max_jobs": 10,
        "poll_delay": 0.1,  # how soon an idle worker sees a new job
        "job_timeout": 300,
        "keep_result": 3600,
        "handle_signals": True,
        "health_check_interval": HEALTH_CHECK_SECONDS,
        "health_check_key": HEALTH_CHECK_KEY,
    }
    options.update(overrides)
    return Worker(**options)
