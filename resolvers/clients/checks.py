"""Checking and normalizing what a provider or client types about a client."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from importing.fields import FieldInvalid, normalize_email, normalize_name, normalize_phone
from resolvers.errors import FieldProblem, InvalidInput

MAX_INSURANCE_TEXT = 100


@dataclass(frozen=True)
class InsuranceData:
    carrier: str
    member_id: str
    date_of_birth: date


@dataclass(frozen=True)
class NewClient:
    first_name: str
    last_name: str
    email: str
    mobile_phone: str | None = None
    preferred_name: str | None = None
    insurance: InsuranceData | None = None


@dataclass(frozen=True)
class ClientChanges:
    """None leaves a field as it is."""

    legal_first_name: str | None = None
    legal_last_name: str | None = None
    preferred_name: str | None = None
    email: str | None = None
    mobile_phone: str | None = None
    date_of_birth: date | None = None
    insurance: InsuranceData | None = None


class Checker:
    """Collects one FieldProblem per bad field, then raises them together."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.problems: list[FieldProblem] = []

    def _fail(self, field: str, error: FieldInvalid) -> None:
        self.problems.append(FieldProblem(f"{self.prefix}{field}", str(error)))

    def name(self, field: str, value: str | None, *, required: bool = True) -> str | None:
        try:
            return normalize_name(value, required=required)
        except FieldInvalid as error:
            self._fail(field, error)
            return None

    def email(self, field: str, value: str) -> str:
        try:
            return normalize_email(value)
        except FieldInvalid as error:
            self._fail(field, error)
            return ""

    def phone(self, field: str, value: str | None, region: str) -> str | None:
        try:
            return normalize_phone(value, region=region)
        except FieldInvalid as error:
            self._fail(field, error)
            return None

    def birth_date(self, field: str, value: date | None) -> date | None:
        if value is not None and (value > date.today() or value.year < 1900):
            self._fail(field, FieldInvalid("must be a real date of birth"))
        return value

    def insurance(self, field: str, value: InsuranceData | None) -> InsuranceData | None:
        if value is None:
            return None
        prefix = f"{field}." if field else ""  # "" when the insurance is the whole input
        carrier = self.name(f"{prefix}carrier", value.carrier)
        member_id = "".join(value.member_id.split())
        if not member_id:
            self._fail(f"{prefix}memberId", FieldInvalid("is required"))
        elif len(member_id) > MAX_INSURANCE_TEXT:
            self._fail(f"{prefix}memberId", FieldInvalid("is too long"))
        dob = self.birth_date(f"{prefix}dateOfBirth", value.date_of_birth)
        if carrier and member_id and dob:
            return InsuranceData(carrier=carrier, member_id=member_id, date_of_birth=dob)
        return None

    def raise_if_any(self) -> None:
        if self.problems:
            raise InvalidInput(self.problems)


def check_new_client(data: NewClient, region: str) -> NewClient:
    check = Checker()
    result = NewClient(
        first_name=check.name("firstName", data.first_name) or "",
        last_name=check.name("lastName", data.last_name) or "",
        email=check.email("email", data.email),
        mobile_phone=check.phone("mobilePhone", data.mobile_phone, region),
        preferred_name=check.name("preferredName", data.preferred_name, required=False),
        insurance=check.insurance("insurance", data.insurance),
    )
    check.raise_if_any()
    return result


def check_changes(data: ClientChanges, region: str) -> ClientChanges:
    check = Checker()
    result = ClientChanges(
        legal_first_name=check.name("legalFirstName", data.legal_first_name)
        if data.legal_first_name is not None
        else None,
        legal_last_name=check.name("legalLastName", data.legal_last_name)
        if data.legal_last_name is not None
        else None,
        preferred_name=check.name("preferredName", data.preferred_name, required=False) or ""
        if data.preferred_name is not None
        else None,
        email=check.email("email", data.email) if data.email is not None else None,
        mobile_phone=(check.phone("mobilePhone", data.mobile_phone, region) or "")
        if data.mobile_phone is not None
        else None,
        date_of_birth=check.birth_date("dateOfBirth", data.date_of_birth),
        insurance=check.insurance("insurance", data.insurance),
    )
    check.raise_if_any()
    return result
