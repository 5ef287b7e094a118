"""The payment-processor interface and the test processor that is the embedded default."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Protocol

from caseload.settings import PaymentProcessorKind, Settings


@dataclass(frozen=True)
class AttachedCard:
    """All Caseload keeps of a card: never its number, only what the processor hands back."""

    brand: str
    last4: str
    reference: str  # the processor's id of the stored payment method


class PaymentRejected(Exception):
    """The processor refused the token; `reason` is shown to the client as is."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PaymentProcessor(Protocol):
    name: str

    async def attach(self, token: str) -> AttachedCard:
        """Turn a one-time token from the processor's front-end widget into a stored card."""


_TEST_CARDS = {
    "tok_visa": ("visa", "4242"),
    "tok_mastercard": ("mastercard", "4444"),
    "tok_amex": ("amex", "8431"),
}
_TEST_DECLINED = {"tok_chargeDeclined", "tok_chargeDeclinedInsufficientFunds"}


class TestProcessor:
    """Accepts the documented test tokens, like a processor's test mode; keeps nothing."""

    name = "test"
    __test__ = False  # not a pytest test class

    async def attach(self, token: str) -> AttachedCard:
        if token in _TEST_DECLINED:
            raise PaymentRejected("was declined")
        card = _TEST_CARDS.get(token)
        if card is None:
            raise PaymentRejected("is not a payment token the processor knows")
        return AttachedCard(
            brand=card[0], last4=card[1], reference=f"pm_test_{secrets.token_hex(12)}"
        )


def payment_processor(settings: Settings) -> PaymentProcessor:
    if settings.payment_processor is PaymentProcessorKind.TEST:
        return TestProcessor()
    raise RuntimeError(f"no payment processor named {settings.payment_processor}")
