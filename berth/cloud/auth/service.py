"""Access tokens for API clients, and who a token belongs to."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from sqlalchemy import RowMapping

from berth.cloud.auth import credentials
from berth.cloud.auth import repository as repo
from berth.cloud.auth.credentials import Principal
from berth.cloud.context import CloudContext
from berth.cloud.partners import repository as partners_repo
from berth.contracts.cloud import TokenResponse, WhoAmI
from berth.domain.errors import Forbidden, InvalidInput, Unauthenticated, Unavailable


@dataclass
class AuthService:
    ctx: CloudContext

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
        """The client's row if the secret is right (rehashed when made with older costs)."""
        with self.ctx.db.read() as conn:
            row = repo.client(conn, client_id)
        stored = row["secret_hash"] if row else None
        if not self.ctx.hasher.verify(client_secret, stored) or row is None or stored is None:
            raise Unauthenticated("INVALID_CLIENT", "Unknown client or wrong secret.")
        if self.ctx.hasher.needs_rehash(stored):  # made with older, costlier parameters
            with contextlib.suppress(Unavailable):  # the login stands; the next one rehashes
                fresh = self.ctx.hasher.hash(client_secret)
                with self.ctx.write() as conn:
                    repo.replace_secret_hash(conn, client_id, stored, fresh)
        return row

    def authorize(self, bearer: str | None, scope: str | None) -> Principal:
        """401 for a missing, forged, expired or unknown token; 403 for the wrong scope."""
        if not bearer:
            raise Unauthenticated("NOT_AUTHENTICATED", "Send 'Authorization: Bearer <token>'.")
        claims = credentials.decode_access_token(bearer, self.ctx.jwt_key, self.ctx.clock())
        with self.ctx.db.read() as conn:
            row = repo.client(conn, str(claims["sub"]))
        if row is None:
            raise Unauthenticated("TOKEN_INVALID", "The token's client no longer exists.")
        scopes = frozenset(str(claims["scope"]).split()) & frozenset(row["scopes"].split())
        if scope is not None and scope not in scopes:
            raise Forbidden("INSUFFICIENT_SCOPE", f"This endpoint needs the '{scope}' scope.")
        return Principal(row["client_id"], row["partner_id"], scopes)

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
