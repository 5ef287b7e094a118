"""One error vocabulary: the import pipeline's file codes and row severities are the API's."""

from __future__ import annotations

from typing import get_args

import pytest

from importing.errors import FileErrorCode
from importing.model import Severity
from models import IssueSeverity
from resolvers.errors import EditLocked, EmailTaken, ErrorCode, InvalidInput, RateLimited
from schema.errors import AuthError, InputError, InvalidStateError, expected


def test_every_file_error_code_is_an_api_error_code() -> None:
    assert {code.value for code in FileErrorCode} <= {code.value for code in ErrorCode}


def test_row_issue_severities_are_the_readers_severities() -> None:
    assert {s.value for s in IssueSeverity} == set(get_args(Severity))


def test_expected_answers_the_declared_member_with_the_class_code() -> None:
    taken = expected(EmailTaken([]), InputError, AuthError)
    assert isinstance(taken, InputError) and taken.code is ErrorCode.EMAIL_TAKEN
    limited = expected(RateLimited("slow down"), InputError, AuthError)
    assert isinstance(limited, AuthError) and limited.code is ErrorCode.RATE_LIMITED
    assert isinstance(expected(InvalidInput([]), InputError), InputError)


def test_an_error_outside_the_union_is_raised_again() -> None:
    locked = EditLocked("only the client")
    with pytest.raises(EditLocked):
        expected(locked, InputError, InvalidStateError)
