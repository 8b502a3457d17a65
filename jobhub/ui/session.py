"""The dashboard's session: a signed cookie naming an API key, and its CSRF token.

The cookie holds the key's id, never its secret, and a random session id; it is signed
with a secret every API process of the database shares, so any of them can serve the
next request. The key is looked up on every request, so revoking it ends the session.
The CSRF token is derived from the session id: a page carries it in its forms, and a
cross-site request cannot read it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "jobhub_session"
LIFETIME_SECONDS = 12 * 3600
"""A session lasts a working day; then sign in again."""


@dataclass(frozen=True, slots=True)
class Session:
    key_id: str
    session_id: str

    @classmethod
    def new(cls, key_id: str) -> Session:
        return cls(key_id=key_id, session_id=secrets.token_urlsafe(18))


class SessionSigner:
    """Turns sessions into cookie values and back, and derives their CSRF tokens."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="jobhub.ui.session")
        self._csrf_key = hashlib.sha256(f"jobhub.ui.csrf:{secret}".encode()).digest()

    def dump(self, session: Session) -> str:
        return self._serializer.dumps([session.key_id, session.session_id])

    def load(self, value: str) -> Session | None:
        """The session a cookie holds, or None when it is forged, malformed or expired."""
        try:
            key_id, session_id = self._serializer.loads(value, max_age=LIFETIME_SECONDS)
        except (BadSignature, ValueError, TypeError):
            return None
        if not isinstance(key_id, str) or not isinstance(session_id, str):
            return None
        return Session(key_id=key_id, session_id=session_id)

    def csrf_token(self, session: Session) -> str:
        return hmac.new(self._csrf_key, session.session_id.encode(), "sha256").hexdigest()

    def csrf_valid(self, session: Session, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(self.csrf_token(session), token)
