"""The cron job that queues onboarding reminders; the rules live in resolvers/onboarding/reminders.py."""

from __future__ import annotations

from typing import Any

from resolvers.onboarding.reminders import queue_due_reminders
from workers.outages import skips_outages


@skips_outages
async def remind_onboarding(ctx: dict[str, Any]) -> int:
    return await queue_due_reminders(ctx["services"])
