"""GraphQL documents and small steps of client onboarding, shared by the onboarding tests."""

from __future__ import annotations

from typing import Any

from tests.support import AUTH_FIELDS, CLIENT_FIELDS, PASSWORD, Api

CLIENT_RESULT = f"""
  __typename
  ... on ClientSuccess {{ client {{ {CLIENT_FIELDS} }} }}
  ... on MutationError {{ code message }}
  ... on InputError {{ fields {{ field message }} }}
"""

VERIFY = f"mutation($i: VerifyEmailInput!) {{ verifyEmail(input: $i) {{ {AUTH_FIELDS} }} }}"
RESEND = f"mutation($id: ID!) {{ resendInvitation(clientId: $id) {{ {CLIENT_RESULT} }} }}"
UPDATE_PROFILE = (
    f"mutation($i: UpdateMyProfileInput!) {{ updateMyProfile(input: $i) {{ {CLIENT_RESULT} }} }}"
)
SET_INSURANCE = (
    f"mutation($i: InsuranceInput!) {{ setMyInsurance(input: $i) {{ {CLIENT_RESULT} }} }}"
)
ADD_BILLING = (
    f"mutation($i: BillingMethodInput!) {{ addMyBillingMethod(input: $i) {{ {CLIENT_RESULT} }} }}"
)
ACKNOWLEDGE = (
    f"mutation($i: AcknowledgeFormsInput!) {{ acknowledgeForms(input: $i) {{ {CLIENT_RESULT} }} }}"
)
FORMS = "{ forms { id kind version title body } }"
CLIENT_UPDATED = f"subscription {{ clientUpdated {{ {CLIENT_FIELDS} }} }}"
CLIENT = f"query($id: ID!) {{ client(id: $id) {{ {CLIENT_FIELDS} }} }}"

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
