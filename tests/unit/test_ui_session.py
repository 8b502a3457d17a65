"""The dashboard's session cookie and CSRF tokens (pure: no server)."""

from __future__ import annotations

import time

import pytest

from jobhub.ui import session as ui_session
from jobhub.ui.session import Session, SessionSigner


def test_a_session_survives_its_cookie_and_names_only_the_key_id() -> None:
    signer = SessionSigner("secret")
    session = Session.new("k1")
    value = signer.dump(session)

    assert signer.load(value) == session
    assert "secret" not in value


@pytest.mark.parametrize(
    "value", ["", "garbage", "WyJrMSIsInMxIl0.AAAAAA.forged", "a.b.c.d"], ids=repr
)
def test_a_forged_or_malformed_cookie_is_no_session(value: str) -> None:
    assert SessionSigner("secret").load(value) is None


def test_a_cookie_signed_with_another_secret_is_no_session() -> None:
    value = SessionSigner("other").dump(Session.new("k1"))

    assert SessionSigner("secret").load(value) is None


def test_an_expired_session_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    signer = SessionSigner("secret")
    value = signer.dump(Session.new("k1"))
    monkeypatch.setattr(ui_session, "LIFETIME_SECONDS", -1)
    time.sleep(0.01)

    assert signer.load(value) is None


def test_csrf_tokens_are_bound_to_their_session() -> None:
    signer = SessionSigner("secret")
    mine, theirs = Session.new("k1"), Session.new("k1")

    assert signer.csrf_valid(mine, signer.csrf_token(mine))
    assert not signer.csrf_valid(mine, signer.csrf_token(theirs))
    assert not signer.csrf_valid(mine, None)
    assert not signer.csrf_valid(mine, "")
