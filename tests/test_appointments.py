"""Appointments: scheduling rules, the onboarding gate on confirm, cancel, listing, insurance asks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from models import (
    Appointment,
    AuditEvent,
    Client,
    FormAcknowledgement,
    FormDocument,
    OutboxMessage,
    User,
)
from tests.support import (
    APPOINTMENT_RESULT,
    Api,
    accept_invitation,
    add_client,
    confirm,
    mail_files,
    read_mail,
    run_worker,
    schedule,
    sign_up_client,
    sign_up_provider,
)

RESULT = APPOINTMENT_RESULT
CANCEL = f"mutation($id: ID!) {{ cancelAppointment(id: $id) {{ {RESULT} }} }}"
ARCHIVE = "mutation($id: ID!) { archiveClient(id: $id) { __typename } }"
LIST = """
query($first: Int, $after: String, $clientId: ID, $from: DateTime, $to: DateTime) {
  appointments(first: $first, after: $after, clientId: $clientId, from: $from, to: $to) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id startsAt status client { id } provider { id } } }
  }
}
"""

DAY = datetime(2031, 3, 10, tzinfo=UTC)


def at(hour: float, day: int = 0) -> str:
    return (DAY + timedelta(days=day, hours=hour)).isoformat()


async def cancel(api: Api, token: str, appointment_id: str) -> dict[str, Any]:
    return (await api.gql(CANCEL, {"id": appointment_id}, token))["cancelAppointment"]


async def listed(api: Api, token: str, **variables: Any) -> list[dict[str, Any]]:
    data = await api.gql(LIST, variables, token)
    return [edge["node"] for edge in data["appointments"]["edges"]]


async def test_schedule_checks_order_length_and_overlap(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    other_token, _ = await sign_up_provider(api)
    client_id = (await add_client(api, token))["client"]["id"]
    other_client = (await add_client(api, other_token))["client"]["id"]

    first = await schedule(api, token, client_id, at(10), at(11))
    assert first["__typename"] == "AppointmentSuccess"
    assert first["appointment"]["status"] == "SCHEDULED"
    assert first["appointment"]["client"]["id"] == client_id
    assert datetime.fromisoformat(first["appointment"]["startsAt"]) == DAY + timedelta(hours=10)

    for start, end in ((at(12), at(12)), (at(13), at(12))):
        wrong = await schedule(api, token, client_id, start, end)
        assert wrong["__typename"] == "InputError" and wrong["code"] == "INVALID_INPUT"
        assert [f["field"] for f in wrong["fields"]] == ["endsAt"]
    too_long = await schedule(api, token, client_id, at(8, day=1), at(16.05, day=1))
    assert too_long["__typename"] == "InputError"
    assert "8 hours" in too_long["fields"][0]["message"]
    assert (await schedule(api, token, client_id, at(8, day=1), at(16, day=1)))[
        "__typename"
    ] == "AppointmentSuccess"

    clash = await schedule(api, token, client_id, at(10.5), at(11.5))
    assert clash["__typename"] == "InputError"
    assert {f["field"] for f in clash["fields"]} == {"startsAt", "endsAt"}
    inside = await schedule(api, token, client_id, at(10.25), at(10.75))
    assert inside["__typename"] == "InputError"
    # back to back is fine, and another provider's calendar is their own
    assert (await schedule(api, token, client_id, at(11), at(12)))["__typename"] == (
        "AppointmentSuccess"
    )
    assert (await schedule(api, other_token, other_client, at(10), at(11)))["__typename"] == (
        "AppointmentSuccess"
    )
    # a cancelled appointment frees its time
    assert (await cancel(api, token, first["appointment"]["id"]))["appointment"][
        "status"
    ] == "CANCELLED"
    assert (await schedule(api, token, client_id, at(10.5), at(11)))["__typename"] == (
        "AppointmentSuccess"
    )
    assert await Appointment.all().count() == 5


async def test_schedule_needs_an_active_client_of_ones_own(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    other_token, _ = await sign_up_provider(api)
    mine = (await add_client(api, token))["client"]["id"]
    theirs = (await add_client(api, other_token))["client"]["id"]
    for client_id in (theirs, "00000000-0000-0000-0000-000000000000", "garbage"):
        result = await schedule(api, token, client_id, at(9), at(10))
        assert result["__typename"] == "NotFoundError" and result["code"] == "NOT_FOUND"

    await api.gql(ARCHIVE, {"id": mine}, token)
    archived = await schedule(api, token, mine, at(9), at(10))
    assert archived["__typename"] == "InvalidStateError"
    assert archived["code"] == "CLIENT_ARCHIVED"

    client_token, _ = await sign_up_client(api)
    denied = await schedule(api, client_token, mine, at(9), at(10))
    assert denied["__typename"] == "AuthError" and denied["code"] == "FORBIDDEN"
    anonymous = await schedule(api, "", mine, at(9), at(10))
    assert anonymous["code"] == "UNAUTHENTICATED"
    assert await Appointment.all().count() == 0


async def test_parallel_schedules_of_one_slot_book_it_once(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    client_id = (await add_client(api, token))["client"]["id"]
    results = await asyncio.gather(
        *(schedule(api, token, client_id, at(9 + i / 10), at(10 + i / 10)) for i in range(6))
    )
    kinds = sorted(r["__typename"] for r in results)
    assert kinds == ["AppointmentSuccess"] + ["InputError"] * 5
    assert await Appointment.all().count() == 1


async def test_scheduling_without_insurance_asks_for_it_once_a_day(api: Api) -> None:
    token, _ = await sign_up_provider(api, name="Dr Quinzel")
    added = await add_client(
        api, token, firstName="Canary", lastName="Wharton", email="canary@example.org"
    )
    client_id = added["client"]["id"]
    await accept_invitation(api, "canary@example.org")  # an entry nobody accepted is not asked
    insured = await add_client(
        api,
        token,
        email="insured@example.org",
        insurance={"carrier": "Aetna", "memberId": "W1", "dateOfBirth": "1990-01-01"},
    )
    await schedule(api, token, client_id, at(9), at(10))
    await schedule(api, token, client_id, at(11), at(12))
    await schedule(api, token, insured["client"]["id"], at(13), at(14))
    requests = await OutboxMessage.filter(kind="email.insurance_request").values("payload")
    user = await User.get(email="canary@example.org")
    assert [r["payload"] for r in requests] == [{"user_id": str(user.id), "client_id": client_id}]

    await run_worker(api.settings)
    mails = [read_mail(p) for p in mail_files(api.settings)]
    asks = [m for m in mails if m["Subject"] == "Please add your insurance information"]
    assert len(asks) == 1
    assert asks[0]["To"] == "canary@example.org"
    text = asks[0].get_content()
    assert f"{api.settings.public_url}/insurance" in text
    for secret in ("Canary", "Wharton", "Quinzel", "canary@", "appointment"):
        assert secret.lower() not in text.lower()

    # a day later the next scheduling asks again
    await Client.filter(id=client_id).update(
        insurance_requested_at=datetime.now(UTC) - timedelta(hours=25)
    )
    await schedule(api, token, client_id, at(9, day=2), at(10, day=2))
    assert await OutboxMessage.filter(kind="email.insurance_request").count() == 2


async def _complete_step(api: Api, client: dict[str, Any], step: str) -> None:
    """What the client's self-service mutations will do, written straight to the database.

    The e-mail step is the person accepting the invitation, for real: that is what verifies
    the address in the provider's view.
    """
    client_id = client["id"]
    if step == "VERIFY_EMAIL":
        await accept_invitation(api, client["email"])
    elif step == "ADD_INSURANCE":
        await Client.filter(id=client_id).update(
            insurance_carrier="Aetna",
            insurance_member_id="W123",
            insurance_date_of_birth=datetime(1990, 1, 1).date(),
        )
    elif step == "ADD_BILLING":
        await Client.filter(id=client_id).update(
            billing_processor="test",
            billing_token="tok_visa",
            billing_brand="visa",
            billing_last4="4242",
        )
    else:
        for document in await FormDocument.all():
            await FormAcknowledgement.get_or_create(client_id=client_id, document_id=document.id)


async def test_confirm_waits_for_each_onboarding_step(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    client = (await add_client(api, token))["client"]
    client_id = client["id"]
    appointment_id = (await schedule(api, token, client_id, at(9), at(10)))["appointment"]["id"]
    steps = ["VERIFY_EMAIL", "ADD_INSURANCE", "ADD_BILLING", "ACKNOWLEDGE_FORMS"]
    for done in range(len(steps)):
        refused = await confirm(api, token, appointment_id)
        assert refused["__typename"] == "OnboardingIncompleteError"
        assert refused["code"] == "ONBOARDING_INCOMPLETE"
        assert refused["missingSteps"] == steps[done:]
        assert [a["status"] for a in await listed(api, token)] == ["SCHEDULED"]
        if steps[done] == "ACKNOWLEDGE_FORMS":
            # one of the two forms is not enough
            first_form = await FormDocument.all().order_by("kind").first()
            assert first_form is not None
            await FormAcknowledgement.create(client_id=client_id, document_id=first_form.id)
            again = await confirm(api, token, appointment_id)
            assert again["missingSteps"] == ["ACKNOWLEDGE_FORMS"]
        await _complete_step(api, client, steps[done])

    confirmed = await confirm(api, token, appointment_id)
    assert confirmed["__typename"] == "AppointmentSuccess"
    assert confirmed["appointment"]["status"] == "CONFIRMED"
    assert (await confirm(api, token, appointment_id))["appointment"]["status"] == "CONFIRMED"
    row = await Appointment.get(id=appointment_id)
    assert row.confirmed_at is not None
    actions = await AuditEvent.filter(subject_id=appointment_id).values_list("action", flat=True)
    assert sorted(actions) == ["appointment.confirm", "appointment.schedule"]

    # a newer version of a form needs a new acknowledgement before the next confirmation
    second = (await schedule(api, token, client_id, at(11), at(12)))["appointment"]["id"]
    await FormDocument.create(kind="PRIVACY_POLICY", version=2, title="Privacy v2", body="...")
    refused = await confirm(api, token, second)
    assert refused["missingSteps"] == ["ACKNOWLEDGE_FORMS"]


async def test_cancel_scheduled_or_confirmed_once(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    other_token, _ = await sign_up_provider(api)
    client = (await add_client(api, token))["client"]
    client_id = client["id"]
    appointment_id = (await schedule(api, token, client_id, at(9), at(10)))["appointment"]["id"]

    assert (await cancel(api, other_token, appointment_id))["code"] == "NOT_FOUND"
    assert (await confirm(api, other_token, appointment_id))["code"] == "NOT_FOUND"
    assert (await cancel(api, token, "garbage"))["code"] == "NOT_FOUND"

    cancelled = await cancel(api, token, appointment_id)
    assert cancelled["appointment"]["status"] == "CANCELLED"
    again = await cancel(api, token, appointment_id)
    assert again["__typename"] == "InvalidStateError" and again["code"] == "INVALID_STATE"
    refused = await confirm(api, token, appointment_id)
    assert refused["__typename"] == "InvalidStateError"

    for step in ("VERIFY_EMAIL", "ADD_INSURANCE", "ADD_BILLING", "ACKNOWLEDGE_FORMS"):
        await _complete_step(api, client, step)
    confirmed_id = (await schedule(api, token, client_id, at(9), at(10)))["appointment"]["id"]
    assert (await confirm(api, token, confirmed_id))["appointment"]["status"] == "CONFIRMED"
    assert (await cancel(api, token, confirmed_id))["appointment"]["status"] == "CANCELLED"
    assert (await Appointment.get(id=confirmed_id)).cancelled_at is not None


async def test_appointments_list_is_scoped_filtered_and_paged(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    other_token, _ = await sign_up_provider(api)
    client_token, _ = await sign_up_client(api, email="both@example.org")
    await add_client(api, token, email="both@example.org")
    await add_client(api, other_token, email="both@example.org")
    # the person accepts both providers' invitations into the account they have
    await accept_invitation(api, "both@example.org")
    shared = str((await Client.get(user__email="both@example.org")).id)
    solo = (await add_client(api, token, email="solo@example.org"))["client"]["id"]

    for hour in (13, 9, 11):
        await schedule(api, token, shared, at(hour), at(hour + 1))
    await schedule(api, token, solo, at(15), at(16))
    await schedule(api, token, solo, at(9, day=3), at(10, day=3))
    await schedule(api, other_token, shared, at(9), at(10))

    mine = await listed(api, token)
    assert [a["startsAt"][:16] for a in mine] == [
        at(9)[:16],
        at(11)[:16],
        at(13)[:16],
        at(15)[:16],
        at(9, day=3)[:16],
    ]
    assert len({a["provider"]["id"] for a in mine}) == 1
    assert [a["client"]["id"] for a in await listed(api, token, clientId=solo)] == [solo, solo]
    assert await listed(api, token, clientId="garbage") == []
    # the range keeps what overlaps it
    window = await listed(api, token, **{"from": at(10.5), "to": at(13)})
    assert [a["startsAt"][:16] for a in window] == [at(11)[:16]]
    assert len(await listed(api, token, **{"from": at(12)})) == 3

    seen: list[str] = []
    after = None
    while True:
        page = (await api.gql(LIST, {"first": 2, "after": after}, token))["appointments"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [a["id"] for a in mine]
    capped = (await api.gql(LIST, {"first": 1000}, token))["appointments"]
    assert len(capped["edges"]) == 5 and capped["pageInfo"]["hasNextPage"] is False

    own = await listed(api, client_token)
    assert len(own) == 4
    assert {a["client"]["id"] for a in own} == {shared}
    assert len({a["provider"]["id"] for a in own}) == 2
    assert len(await listed(api, other_token)) == 1

    anonymous = await api.post(LIST)
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    bad = await api.post(LIST, {"after": "bm90LWEtY3Vyc29y"}, token)
    assert bad.json()["errors"][0]["message"] != "Unexpected error."
