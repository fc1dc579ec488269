"""Who is asking: the client's address, through the reverse proxies we trust.

`X-Forwarded-For` and `X-Real-IP` are anyone's to write, so they are believed only when the
peer of the connection is one of `server.trusted_proxies` (nginx): then X-Forwarded-For is
read from its right end (what the nearest proxy saw) leftwards, past further trusted
proxies, and the first address that is not one is the client. From any other peer the
headers are ignored and the peer is the client.

(aiohttp-remotes was considered: its XForwardedFiltered believes the header from any peer,
and XForwardedStrict answers 400 to a direct request that has no header, so neither fits.)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from aiohttp import web
from multidict import MultiMapping

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address


def networks(items: Iterable[str]) -> tuple[Network, ...]:
    """`server.trusted_proxies` as networks (an address is a network of one)."""
    return tuple(ip_network(item, strict=False) for item in items)


def _address(value: str) -> Address | None:
    try:
        found = ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(found, IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


def _trusted(address: Address, trusted: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def client_address(peer: str | None, headers: MultiMapping[str],
                   trusted: Sequence[Network]) -> str | None:
    """The client's address given the connection's `peer`, the request's headers and the
    trusted proxies; None when unknown."""
    here = _address(peer) if peer else None
    if here is None or not _trusted(here, trusted):
        return str(here) if here is not None else None
    hops = [part for line in headers.getall("X-Forwarded-For", []) for part in line.split(",")]
    if not hops and (real := _address(headers.get("X-Real-IP", ""))) is not None:
        return str(real)
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break  # a malformed entry: nothing left of it can be believed
        if not _trusted(address, trusted):
            return str(address)
        here = address
    return str(here)


def of(request: web.Request, trusted: Sequence[Network]) -> str | None:
    """The client's address of this request (see client_address)."""
    return client_address(request.remote, request.headers, trusted)


def throttle_key(address: str | None) -> str:
    """What the login throttle counts by: an IPv4 address, or an IPv6 address's /64 (one
    subscriber has a whole /64 to pick addresses from)."""
    found = _address(address) if address else None
    if found is None:
        return "-"
    if isinstance(found, IPv6Address):
        return str(ip_network(f"{found}/64", strict=False))
    return str(found)
