"""The client's address behind trusted reverse proxies (JARING_TRUSTED_PROXIES).

Login throttling and the login audit use the address a request came from. Behind a TLS proxy
(nginx, Caddy, a load balancer) every request comes from the proxy, so 20 failed logins from
anyone would lock everyone out. The proxy appends the address it saw to `X-Forwarded-For`.

Only when the direct peer is one of the trusted proxies is that header read, and then from the
right: entries appended by trusted proxies are skipped, and the first address that is not a
trusted proxy is the client. Whatever a client writes into the header itself stands to the left
of what the first proxy appended, so it is never reached unless the client is itself a trusted
proxy. With no trusted proxy configured (the default) the header is ignored entirely.

(aiohttp-remotes does this too; it is not a dependency, and this is the part Jaring needs.)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from config import Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address as X-Forwarded-For carries it: "1.2.3.4", "1.2.3.4:5678", "[::1]:5678",
    "::1"; None when it is none of these ("unknown", an obfuscated node name ...)."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


class TrustedProxies:
    def __init__(self, networks: Sequence[Network] = ()):
        self.networks = tuple(networks)

    def trusted(self, addr) -> bool:
        return addr is not None and any(addr in n for n in self.networks)

    def client(self, peer: str | None, forwarded_for: Iterable[str]) -> str:
        """The client address: the peer itself, unless the peer is a trusted proxy; then the
        right-most X-Forwarded-For entry that is not a trusted proxy. `forwarded_for` is every
        X-Forwarded-For header of the request, in order."""
        peer = peer or "unknown"
        if not self.networks or not self.trusted(_address(peer)):
            return peer
        hops = [h for value in forwarded_for for h in value.split(",") if h.strip()]
        client = peer
        for hop in reversed(hops):
            addr = _address(hop)
            if addr is None:  # a hop we cannot read: stop at the last one we could trust
                break
            client = str(addr)
            if not self.trusted(addr):
                break
        return client
