"""Group commit: small concurrent writes of one process share one SQLite transaction.

SQLite has one write lock and Tortoise gives a process one connection to it, so every write
of the process queues behind the one before it, and each holds the lock for several round
trips between the event loop and the connection's thread (a loop turn each while the loop
serves other requests). With 20 providers adding clients at once, the twentieth waited for
nineteen such transactions. Here, units that arrive while the process waits for its
connection (and the lock) join one group: the group begins once, its units run their
statements concurrently on that transaction (their round trips overlap), and it commits once.

Only units whose work is safe to interleave with one another in one transaction may join:
they write rows of their own, and a clash between two of them (the same address added twice)
fails a constraint. When any unit of a group fails, the whole group rolls back and each unit
runs again on its own, exactly as `in_unit_of_work` runs it, so every caller gets the answer
it would have had alone. PostgreSQL runs concurrent transactions side by side: there, units
run alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from tortoise import connections
from tortoise.transactions import in_transaction

from resolvers.ports import Services
from resolvers.unit_of_work import UnitOfWork, in_unit_of_work, release_effects

log = logging.getLogger(__name__)

T = TypeVar("T")

# Units in one transaction at most: a group holds the lock about as long as its slowest unit,
# plus the statements the connection's thread runs for all of them one after another.
GROUP_LIMIT = 16


@dataclass
class _Unit:
    work: Callable[[UnitOfWork], Awaitable[Any]]
    answer: asyncio.Future[Any]
    uow: UnitOfWork | None = None
    result: Any = None


@dataclass
class _Group:
    units: list[_Unit] = field(default_factory=list)


class _Rollback(Exception):
    """A unit of the group failed: nothing of the group is kept."""


# The group still gathering units, per event loop (tests run several loops in one process).
_gathering: WeakKeyDictionary[asyncio.AbstractEventLoop, _Group] = WeakKeyDictionary()
_leaders: set[asyncio.Task[None]] = set()


def _groups_help() -> bool:
    return str(connections.get("default").capabilities.dialect) == "sqlite"


async def in_grouped_unit_of_work(
    services: Services, work: Callable[[UnitOfWork], Awaitable[T]]
) -> T:
    """`work` in a unit of work, in one transaction with others waiting at the same time.

    The answer (result, error, effects released after commit) is the one `in_unit_of_work`
    gives; `work` must be safe to interleave with other grouped units (module docstring).
    """
    if not _groups_help():
        return await in_unit_of_work(services, work)
    loop = asyncio.get_running_loop()
    unit = _Unit(work, loop.create_future())
    group = _gathering.get(loop)
    if group is None or len(group.units) >= GROUP_LIMIT:
        group = _gathering[loop] = _Group()
        # The group runs in a task of its own: a caller that gives up (a dropped request)
        # does not take the others' transaction with it.
        leader = loop.create_task(_run(services, group))
        _leaders.add(leader)
        leader.add_done_callback(_leaders.discard)
    group.units.append(unit)
    result: T = await asyncio.shield(unit.answer)
    return result


async def _run(services: Services, group: _Group) -> None:
    try:
        await _commit_group(services, group)
    finally:
        # cancelled (the server stopping): no caller waits for an answer that never comes
        for unit in group.units:
            if not unit.answer.done():
                unit.answer.cancel()


async def _commit_group(services: Services, group: _Group) -> None:
    loop = asyncio.get_running_loop()
    try:
        async with in_transaction() as conn:  # waits for the connection, then the write lock
            if _gathering.get(loop) is group:
                del _gathering[loop]  # begun: later units gather for the next transaction
            units = list(group.units)

            async def run(unit: _Unit) -> None:
                unit.uow = UnitOfWork(conn)
                unit.result = await unit.work(unit.uow)

            outcomes = await asyncio.gather(*(run(u) for u in units), return_exceptions=True)
            if any(isinstance(outcome, BaseException) for outcome in outcomes):
                raise _Rollback
    except Exception as error:  # noqa: BLE001 - whatever failed, each unit runs alone
        if _gathering.get(loop) is group:
            del _gathering[loop]
        units = list(group.units)
        if len(units) > 1 or not isinstance(error, _Rollback):
            log.info("a group of %d writes rolled back; each runs alone", len(units))
        await asyncio.gather(*(_alone(services, unit) for unit in units))
        return
    for unit in units:
        assert unit.uow is not None
        try:
            await release_effects(services, unit.uow)
        except Exception as error:  # noqa: BLE001 - one unit's effects must not strand the rest
            log.warning("effects of a grouped write not released: %s", type(error).__name__)
        if not unit.answer.done():
            unit.answer.set_result(unit.result)


async def _alone(services: Services, unit: _Unit) -> None:
    try:
        result = await in_unit_of_work(services, unit.work)
    except Exception as error:  # noqa: BLE001 - handed to the caller as its own outcome
        if not unit.answer.done():
            unit.answer.set_exception(error)
        return
    if not unit.answer.done():
        unit.answer.set_result(result)
