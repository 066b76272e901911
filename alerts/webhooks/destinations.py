"""Where a webhook may be sent: public addresses only, so that an agency's webhook URL cannot
make hexcast's workers reach into the network they run in (loopback, private ranges, link-local
ones with the cloud metadata service, carrier-grade NAT, ...).

The URL's host is checked when the webhook is set and again at every attempt, after DNS
resolution: every address the name resolves to must be public, and the attempt then connects
to the address that was checked, not to whatever a second lookup would return (a name that
changes its answer between the check and the connection gets nowhere). Redirects are never
followed. HEXCAST_WEBHOOK_ALLOWED_NETWORKS lets chosen networks through (tests, which run
their receivers on 127.0.0.1, or a deployment whose agencies sit on a private link)."""

import ipaddress
import socket
from collections.abc import Sequence

from kit.config import get_settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class DestinationRefused(Exception):
    """The URL's host is not one webhooks may be sent to; the message says why."""


def resolve(host: str, port: int) -> list[Address]:
    """Every address `host` resolves to, in the resolver's order; an IP literal is itself."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[Address] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def is_public(address: Address) -> bool:
    """Globally routable; an IPv4 address written as IPv6 (::ffff:a.b.c.d) is judged as IPv4."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def allowed(address: Address, networks: Sequence[Network]) -> bool:
    return is_public(address) or any(address in network for network in networks)


def checked_address(host: str, port: int) -> Address:
    """The address an attempt connects to: the first `host` resolves to, once every address
    it resolves to was found allowed. Raises DestinationRefused."""
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError) as error:
        raise DestinationRefused(f"{host} does not resolve ({error})") from None
    if not addresses:
        raise DestinationRefused(f"{host} does not resolve")
    networks = get_settings().webhook_allowed_networks
    for address in addresses:
        if not allowed(address, networks):
            raise DestinationRefused(
                f"{host} resolves to {address}, which is not a public address: webhooks are "
                "sent to public addresses only"
            )
    return addresses[0]
