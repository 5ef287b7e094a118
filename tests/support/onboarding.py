"""Small steps of client onboarding (verify, insurance, billing, forms), shared by its tests."""

from __future__ import annotations

from typing import Any

from tests.support.api import Api
from tests.support.documents import ACKNOWLEDGE, ADD_BILLING, FORMS, SET_INSURANCE, VERIFY
from tests.support.factories import PASSWORD

INSURANCE = {
    "carrier": "Blue Heron Health",
    "memberId": "BHX 771 2345",
    "dateOfBirth": "1988-02-29",
}


async def verify(api: Api, link_token: str, password: str | None = PASSWORD) -> dict[str, Any]:
    variables = {"i": {"token": link_token, "password": password}}
    return (await api.gql(VERIFY, variables))["verifyEmail"]


async def set_insurance(api: Api, token: str, **fields: Any) -> dict[str, Any]:
    return (await api.gql(SET_INSURANCE, {"i": {**INSURANCE, **fields}}, token))["setMyInsurance"]


async def add_billing(api: Api, token: str, payment_token: str = "tok_visa") -> dict[str, Any]:
    variables = {"i": {"paymentToken": payment_token}}
    return (await api.gql(ADD_BILLING, variables, token))["addMyBillingMethod"]


async def current_forms(api: Api) -> list[dict[str, Any]]:
    return (await api.gql(FORMS))["forms"]


async def acknowledge(api: Api, token: str, ids: list[str] | None = None) -> dict[str, Any]:
    if ids is None:
        ids = [form["id"] for form in await current_forms(api)]
    return (await api.gql(ACKNOWLEDGE, {"i": {"documentIds": ids}}, token))["acknowledgeForms"]


async def complete_onboarding(api: Api, token: str) -> dict[str, Any]:
    """Insurance, billing and forms for a client who has verified their e-mail."""
    for result in (
        await set_insurance(api, token),
        await add_billing(api, token),
        await acknowledge(api, token),
    ):
        assert result["__typename"] == "ClientSuccess", result
    return result["client"]
