"""API keys: who an HTTP caller is, in which organization, and what its role allows.

A key is ``jh_<id>_<secret>``. The id is public (``jobhub apikey list`` and ``revoke`` name
it); only a SHA-256 of the secret is stored. A slow password hash is not needed: the
secret is 256 random bits, not something a person chose, so it cannot be guessed from
its hash. Comparison is constant-time.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

PREFIX = "jh"
_TOKEN = re.compile(r"^jh_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


class Role(enum.StrEnum):
    """What a key may do; each role may do what the ones before it may."""

    VIEWER = "viewer"
    """Read jobs, their results, job types, schedules, limits and pauses."""
    OPERATOR = "operator"
    """Also start, cancel and rerun jobs."""
    ADMIN = "admin"
    """Also set and clear schedules and limits; pause and resume queues, types and
    schedules."""

    def allows(self, needed: Role) -> bool:
        return _RANK[self] >= _RANK[needed]


_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """An authenticated caller."""

    key_id: str
    identity: str
    organization: str
    role: Role


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKey:
    """A key as stored: everything but its secret."""

    id: str
    identity: str
    organization: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None

    @property
    def principal(self) -> Principal:
        return Principal(
            key_id=self.id, identity=self.identity, organization=self.organization, role=self.role
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuedKey:
    """A new key: ``token`` is shown once and never stored."""

    key: ApiKey
    token: str
    secret_hash: str


def issue(identity: str, organization: str, role: Role, now: datetime) -> IssuedKey:
    """A fresh random key for ``identity`` in ``organization``."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        id=key_id,
        identity=identity,
        organization=organization,
        role=role,
        created_at=now,
        revoked_at=None,
    )
    return IssuedKey(key=key, token=f"{PREFIX}_{key_id}_{secret}", secret_hash=hash_secret(secret))


def split_token(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed token, else None."""
    match = _TOKEN.match(token)
    return None if match is None else (match.group(1), match.group(2))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
