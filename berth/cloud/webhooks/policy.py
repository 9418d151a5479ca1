"""How webhooks behave: which targets are allowed, how often and how long deliveries retry."""

from __future__ import annotations

import ipaddress
import random
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from berth.domain.errors import InvalidInput


@dataclass(frozen=True)
class WebhookPolicy:
    """Built from ``Settings.cloud.webhooks_*`` (the defaults live there)."""

    allow_private: bool
    delivery_interval: float  # seconds between idle delivery polls; 0 stops webhooks
    retry_base: float  # seconds before the first retry
    retry_max: float  # longest wait between attempts
    disable_after: float  # seconds of failing before the endpoint is disabled
    rotation_overlap: float  # seconds the previous secret still signs

    def backoff(self, attempts: int, rng: random.Random) -> float:
        """Seconds to wait after ``attempts`` failures: doubling, capped, with jitter (half to
        full), so endpoints that failed together do not retry together."""
        delay = min(self.retry_max, self.retry_base * 2 ** min(attempts - 1, 40))
        return delay * rng.uniform(0.5, 1.0)

    def check_target(self, url: str) -> None:
        """Refuse what is not http(s), or (unless allowed) resolves to a private, loopback,
        link-local or otherwise non-public address: the cloud must not be a proxy into its own
        network (SSRF)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput("WEBHOOK_URL_INVALID", "The URL must be http:// or https:// "
                               "with a host.")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise InvalidInput("WEBHOOK_URL_INVALID", "The URL's port is invalid.") from None
        if self.allow_private:
            return
        try:
            found = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            raise InvalidInput("WEBHOOK_URL_UNRESOLVABLE",
                               f"The host {parts.hostname!r} does not resolve.") from None
        for *_rest, sockaddr in found:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
                address = address.ipv4_mapped
            if not address.is_global or address.is_multicast:
                raise InvalidInput(
                    "WEBHOOK_URL_PRIVATE",
                    f"The host {parts.hostname!r} resolves to {address}, a private, loopback "
                    "or link-local address; the operator has not allowed such targets.")
