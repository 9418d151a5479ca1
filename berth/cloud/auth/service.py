"""Access tokens for API clients, and who a token belongs to."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from sqlalchemy import RowMapping

from berth.cloud.auth import credentials
from berth.cloud.auth import repository as repo
from berth.cloud.auth.credentials import ClientCache, KnownClient, Principal
from berth.cloud.context import CloudContext
from berth.cloud.partners import repository as partners_repo
from berth.contracts.cloud import TokenResponse, WhoAmI
from berth.domain.errors import Forbidden, InvalidInput, Unauthenticated, Unavailable


def _principal(client_id: str, known: KnownClient, granted: frozenset[str],
               scope: str | None) -> Principal:
    scopes = granted & known.scopes
    if scope is not None and scope not in scopes:
        raise Forbidden("INSUFFICIENT_SCOPE", f"This endpoint needs the '{scope}' scope.")
    return Principal(client_id, known.partner_id, scopes)


@dataclass
class AuthService:
    ctx: CloudContext
    _clients: ClientCache = field(default_factory=ClientCache)

    def issue_access_token(self, client_id: str, client_secret: str, scope: str | None
                           ) -> TokenResponse:
        row = self._verified(client_id, client_secret)
        allowed = row["scopes"].split()
        wanted = scope.split() if scope else allowed
        if not wanted or any(sc not in allowed for sc in wanted):
            raise InvalidInput("INVALID_SCOPE", f"This client may ask for: {' '.join(allowed)}.")
        token = credentials.issue_access_token(
            client_id, wanted, self.ctx.jwt_key, self.ctx.clock(), self.ctx.access_token_ttl
        )
        return TokenResponse(
            access_token=token, expires_in=self.ctx.access_token_ttl, scope=" ".join(wanted)
        )

    def operator_login(self, client_id: str, client_secret: str) -> Principal:
        """The fleet console's login: an operator client's own id and secret (401 when wrong,
        403 for a partner's client)."""
        row = self._verified(client_id, client_secret)
        return self.operator(row["client_id"], row)

    def operator(self, client_id: str, row: RowMapping | None = None) -> Principal:
        """An operator client that still exists (a console session is checked per request:
        a removed client's session ends at once)."""
        if row is None:
            with self.ctx.db.read() as conn:
                row = repo.client(conn, client_id)
        if row is None:
            raise Unauthenticated("NOT_AUTHENTICATED", "This client no longer exists.")
        scopes = frozenset(row["scopes"].split())
        if credentials.OPERATOR not in scopes:
            raise Forbidden("INSUFFICIENT_SCOPE", "Only operator clients may use the console.")
        return Principal(row["client_id"], row["partner_id"], scopes)

    def _verified(self, client_id: str, client_secret: str) -> RowMapping:
        """The client's row if the secret is right; a secret verified recently skips argon2."""
        with self.ctx.db.read() as conn:
            row = repo.client(conn, client_id)
        stored = row["secret_hash"] if row else None
        now = self.ctx.clock().timestamp()
        if row is None or stored is None or not self.ctx.verified.known(
                client_id, client_secret, stored, now):
            self._verify(client_id, client_secret, stored, now)
        assert row is not None  # _verify refused an unknown client
        return row

    def _verify(self, client_id: str, client_secret: str, stored: str | None,
                now: float) -> None:
        """The full argon2 check (unknown clients too, against a dummy hash); remembers a match."""
        if not self.ctx.hasher.verify(client_secret, stored) or stored is None:
            raise Unauthenticated("INVALID_CLIENT", "Unknown client or wrong secret.")
        if self.ctx.hasher.needs_rehash(stored):  # made with older, costlier parameters
            with contextlib.suppress(Unavailable):  # the login stands; the next one rehashes
                fresh = self.ctx.hasher.hash(client_secret)
                with self.ctx.write() as conn:
                    repo.replace_secret_hash(conn, client_id, stored, fresh)
                return  # the stored hash changed: remember the secret against the new one next
        self.ctx.verified.remember(client_id, client_secret, stored, now)

    def authorize(self, bearer: str | None, scope: str | None) -> Principal:
        """401 for a missing, forged, expired or unknown token; 403 for the wrong scope."""
        client_id, granted = self._claims(bearer)
        now = self.ctx.clock().timestamp()
        known = self._clients.get(client_id, now)
        if known is None:
            with self.ctx.db.read() as conn:
                row = repo.client(conn, client_id)
            if row is None:
                raise Unauthenticated("TOKEN_INVALID", "The token's client no longer exists.")
            known = self._clients.put(client_id, row["partner_id"],
                                      frozenset(row["scopes"].split()), now)
        return _principal(client_id, known, granted, scope)

    def authorize_cached(self, bearer: str | None, scope: str | None) -> Principal | None:
        """:meth:`authorize` without I/O (for the event loop): None when the token's client was
        not read in the last few seconds; then :meth:`authorize` it in a thread."""
        client_id, granted = self._claims(bearer)
        known = self._clients.get(client_id, self.ctx.clock().timestamp())
        return None if known is None else _principal(client_id, known, granted, scope)

    def _claims(self, bearer: str | None) -> tuple[str, frozenset[str]]:
        if not bearer:
            raise Unauthenticated("NOT_AUTHENTICATED", "Send 'Authorization: Bearer <token>'.")
        claims = credentials.decode_access_token(bearer, self.ctx.jwt_key, self.ctx.clock())
        return str(claims["sub"]), frozenset(str(claims["scope"]).split())

    def whoami(self, principal: Principal) -> WhoAmI:
        name = None
        if principal.partner_id is not None:
            with self.ctx.db.read() as conn:
                row = partners_repo.partner(conn, principal.partner_id)
            name = row["name"] if row else None
        return WhoAmI(
            client_id=principal.client_id,
            partner_id=principal.partner_id,
            partner_name=name,
            scopes=sorted(principal.scopes),
        )
