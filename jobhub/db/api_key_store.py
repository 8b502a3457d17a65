"""The ``api_keys`` table: issued keys, their secret's hash, and revocations."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Engine, RowMapping, Table, func, insert, literal, select, update

from jobhub.api_keys import ApiKey, IssuedKey, Role
from jobhub.db.engine import translated_errors
from jobhub.db.models import ApiKeyRow

api_keys = cast(Table, ApiKeyRow.__table__)


class ApiKeyStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, issued: IssuedKey) -> None:
        key = issued.key
        with translated_errors(), self.engine.begin() as connection:
            connection.execute(
                insert(api_keys).values(
                    id=key.id,
                    secret_hash=issued.secret_hash,
                    identity=key.identity,
                    organization=key.organization,
                    role=key.role.value,
                    created_at=key.created_at,
                )
            )

    def find(self, key_id: str) -> tuple[ApiKey, str] | None:
        """A key and its secret's hash, revoked or not."""
        with translated_errors(), self.engine.connect() as connection:
            row = connection.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        return None if row is None else (_key(row._mapping), row.secret_hash)

    def revoke(self, key_id: str, now: datetime) -> bool:
        """Revoke a key; False when there is no such key (revoking twice is fine)."""
        when = api_keys.c.revoked_at.type
        with translated_errors(), self.engine.begin() as connection:
            found = connection.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id)
                # revoking twice keeps the first revocation's time
                .values(revoked_at=func.coalesce(api_keys.c.revoked_at, literal(now, when)))
            ).rowcount
        return bool(found)

    def all(self) -> list[ApiKey]:
        statement = select(api_keys).order_by(api_keys.c.organization, api_keys.c.created_at)
        with translated_errors(), self.engine.connect() as connection:
            return [_key(row._mapping) for row in connection.execute(statement)]


def _key(row: RowMapping) -> ApiKey:
    return ApiKey(
        id=row["id"],
        identity=row["identity"],
        organization=row["organization"],
        role=Role(row["role"]),
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )
