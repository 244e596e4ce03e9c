"""Authentication by API key and role-based access control.

**Keys.** A key looks like ``rsk_<key_id>_<secret>``: ``key_id`` (public, 8 hex digits)
finds the row, the secret (32 random bytes, URL-safe base64) proves possession. Only the
SHA-256 of the whole key is stored (``api_keys.key_hash``); a key is shown once, when it
is created. A fast hash is the right tool here — unlike passwords, the secrets carry 256
bits of entropy, so a stolen hash cannot be brute-forced (the practice of GitHub and
Stripe tokens); comparison is constant-time. Clients send the key in the ``X-API-Key``
header (browsers: the dashboard's login form keeps it in ``sessionStorage`` and sends
it as the first WebSocket message, never in a URL, so it never lands in access logs).

**Roles** (:class:`riskstream.limits.model.Role`, one definition for the service and the
limits package) are ordered; each grants everything below it:

========== ==================================================================
viewer      read instruments, positions, risk, limits, alerts, regimes, stream
analyst     + drill-down to every instrument's contribution, risk history
compliance  + surveillance and the model inventory (review, validate); no limit changes
risk_manager + change positions and limits, engage and release kill switches
admin       + manage API keys, read the audit log
========== ==================================================================
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from riskstream.core.clock import Clock, SystemClock
from riskstream.core.errors import InputError
from riskstream.limits.model import Actor, Role
from riskstream.store.audit import append_audit
from riskstream.store.refdb import API_KEYS, RefDB

KEY_PATTERN = re.compile(r"^rsk_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")
SECRET_PATTERN = re.compile(r"rsk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}")
"""Matches a key anywhere in text (used to redact logs)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's name and role (never the key)."""

    key_id: str
    name: str
    role: Role

    def allows(self, needed: Role) -> bool:
        return self.role >= needed

    @property
    def actor(self) -> Actor:
        """The caller as the limits package's actor (its own role checks and audit)."""
        return Actor(self.name, self.role)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _new_key() -> tuple[str, str]:
    key_id = secrets.token_hex(4)
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    return key_id, f"rsk_{key_id}_{secret}"


class KeyStore:
    """API keys in the reference DB (hashed), with creation and revocation audited."""

    def __init__(self, db: RefDB, clock: Clock | None = None):
        self.db = db
        self.clock = clock or SystemClock()

    def create(self, name: str, role: Role | str, actor: Principal | None = None) -> str:
        """Create a key and return it; this is the only time the key is ever visible.

        Raises
        ------
        InputError
            The name is empty, too long or already taken, or the role is unknown.
        """
        role = Role.parse(role)
        name = name.strip()
        if not 1 <= len(name) <= 64:
            raise InputError("name", name, "1 to 64 characters")
        key_id, key = _new_key()
        now = self.clock.now_ns()
        with self.db.transaction() as conn:
            taken = conn.execute(sa.select(API_KEYS.c.key_id).where(API_KEYS.c.name == name))
            if taken.first() is not None:
                raise InputError("name", name, "a name no other API key has")
            conn.execute(
                API_KEYS.insert().values(
                    key_id=key_id,
                    name=name,
                    role=role.label,
                    key_hash=hash_key(key),
                    created_ns=now,
                    revoked=False,
                )
            )
            append_audit(
                conn,
                ts_ns=now,
                actor=actor.name if actor else "system",
                role=actor.role.label if actor else "admin",
                action="api_key.create",
                target=f"api_key:{key_id}",
                before=None,
                after={"key_id": key_id, "name": name, "role": role.label},
            )
        return key

    def revoke(self, key_id: str, actor: Principal) -> None:
        """Revoke a key (it stops working at once).

        Raises
        ------
        InputError
            No such key.
        """
        with self.db.transaction() as conn:
            row = (
                conn.execute(sa.select(API_KEYS).where(API_KEYS.c.key_id == key_id))
                .mappings()
                .first()
            )
            if row is None:
                raise InputError("key_id", key_id, "the id of an existing API key")
            conn.execute(API_KEYS.update().where(API_KEYS.c.key_id == key_id).values(revoked=True))
            append_audit(
                conn,
                ts_ns=self.clock.now_ns(),
                actor=actor.name,
                role=actor.role.label,
                action="api_key.revoke",
                target=f"api_key:{key_id}",
                before={"revoked": bool(row["revoked"])},
                after={"revoked": True},
            )

    def list(self) -> list[dict[str, object]]:
        """Every key's id, name, role, creation time and whether revoked (no hashes)."""
        cols = [API_KEYS.c[c] for c in ("key_id", "name", "role", "created_ns", "revoked")]
        with self.db.transaction() as conn:
            rows = conn.execute(sa.select(*cols).order_by(API_KEYS.c.created_ns)).mappings()
            return [dict(r) for r in rows]

    def count(self) -> int:
        with self.db.transaction() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(API_KEYS)).scalar())

    def authenticate(self, key: str | None) -> Principal | None:
        """The principal holding ``key``, or None (malformed, unknown, wrong or revoked)."""
        if not key:
            return None
        match = KEY_PATTERN.match(key.strip())
        if match is None:
            return None
        with self.db.transaction() as conn:
            row = (
                conn.execute(sa.select(API_KEYS).where(API_KEYS.c.key_id == match.group(1)))
                .mappings()
                .first()
            )
        if row is None or row["revoked"]:
            return None
        if not hmac.compare_digest(row["key_hash"], hash_key(key.strip())):
            return None
        return Principal(row["key_id"], row["name"], Role.parse(row["role"]))
