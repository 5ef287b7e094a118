"""A live subscription ends with UNAUTHENTICATED once its session is logged out or expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.accounts import Session
from tests.support import Api, Subscription, sign_up_provider, subscribe

CLIENT_UPDATED = "subscription { clientUpdated { id } }"


async def _ends_unauthenticated(sub: Subscription, within: float = 3.0) -> None:
    """An error result (or an error message), then completion, within `within` seconds."""
    first = await sub.message(within)
    if first["type"] == "next":
        errors = first["payload"].get("errors") or []
        assert [e["extensions"]["code"] for e in errors] == ["UNAUTHENTICATED"], first
        last = await sub.message(within)
        assert last["type"] == "complete", last
    else:
        assert first["type"] == "error", first
        assert [e["extensions"]["code"] for e in first["payload"]] == ["UNAUTHENTICATED"], first


async def test_logging_out_ends_the_subscription(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    async with subscribe(api, CLIENT_UPDATED, token=token) as sub:
        data = await api.gql("mutation { logOut }", token=token)
        assert data == {"logOut": True}
        await _ends_unauthenticated(sub)


async def test_an_expired_session_ends_the_subscription(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    async with subscribe(api, CLIENT_UPDATED, token=token) as sub:
        past = datetime.now(UTC) - timedelta(minutes=1)
        assert await Session.filter(revoked_at=None).update(expires_at=past) == 1
        await _ends_unauthenticated(sub)


async def test_a_live_session_keeps_its_subscription(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    async with subscribe(api, CLIENT_UPDATED, token=token) as sub:
        try:
            message = await sub.message(1.5)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected message: {message}")
