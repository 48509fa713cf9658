"""Where a drone URL may point: the networks and serial devices of NAZORAT_DRONE_NETWORKS.

Why: adding a drone makes this server open a connection to the URL (and probe it for a MAVLink
heartbeat). Without a limit an operator could aim the server at any host:port it can reach
(the internet, the cloud metadata address, services on its own private network that the
operator cannot reach) and use it as a scanner. Drones are on the unit's own radio or network:
by default loopback, the private ranges and serial devices under /dev/; a deployment that flies
over a carrier network (e.g. 100.64.0.0/10) adds it.

Entries are CIDRs (`10.20.0.0/16`, `fd00::/8`) or absolute device-path prefixes (`/dev/`,
`/dev/serial/by-id/`). An outgoing URL's host name is resolved, and every address it resolves
to must be inside one of the networks. A listening URL (udpin/tcpin) may bind the unspecified
address (0.0.0.0 or ::), or one inside the networks. A serial device path is normalised
(`/dev/../etc/x` is /etc/x) before it is compared with the prefixes.

Not covered: a host name is resolved here, and MAVSDK resolves it again when it connects, so a
DNS record that changes in between (rebinding) is not caught; give addresses where that matters.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os.path
import socket
from dataclasses import dataclass

from telemetry.errors import FleetError
from telemetry.urls import ConnectionUrl

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_DRONE_NETWORKS: tuple[str, ...] = (
    "127.0.0.0/8", "::1/128",  # loopback: simulators and SITL on this host
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7",  # private ranges
    "/dev/",  # serial telemetry radios
)
RESOLVE_TIMEOUT_S = 5.0


class UrlNotAllowed(FleetError):
    """The drone URL points outside NAZORAT_DRONE_NETWORKS (answered 422, field `url`)."""


@dataclass(frozen=True)
class DroneNetworks:
    networks: tuple[IPNetwork, ...]
    devices: tuple[str, ...]

    @classmethod
    def parse(cls, entries: tuple[str, ...]) -> DroneNetworks:
        """From the setting's entries; ValueError naming the variable and the bad entry."""
        networks: list[IPNetwork] = []
        devices: list[str] = []
        for entry in entries:
            if entry.startswith("/"):
                devices.append(entry)
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(f"NAZORAT_DRONE_NETWORKS: {entry!r} is neither a network "
                                 "(CIDR) nor a device path prefix (/dev/...)") from None
        return cls(tuple(networks), tuple(devices))

    def allows_address(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in net for net in self.networks)

    def allows_device(self, device: str) -> bool:
        path = os.path.normpath(device)  # no `..` left to climb out of a prefix
        return any(path.startswith(p) for p in self.devices)

    async def check(self, url: ConnectionUrl) -> None:
        """Raise UrlNotAllowed (field `url`) unless `url` is inside the allowed networks."""
        if url.scheme == "serial":
            if not self.allows_device(url.device):
                raise UrlNotAllowed(f"{url.url}: the device is not under the allowed device "
                                    "paths (NAZORAT_DRONE_NETWORKS)", field="url")
            return
        if url.listens and url.host.strip("[]") in ("0.0.0.0", "::"):
            return
        for address in await _resolve(url):
            if not self.allows_address(address):
                raise UrlNotAllowed(f"{url.url}: {address} is outside the allowed drone "
                                    "networks (NAZORAT_DRONE_NETWORKS)", field="url")


async def _resolve(url: ConnectionUrl) -> list[IPAddress]:
    host = url.host.strip("[]")
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_S):
            infos = await asyncio.get_running_loop().getaddrinfo(host, url.port,
                                                                 type=socket.SOCK_DGRAM)
    except (OSError, TimeoutError):
        raise UrlNotAllowed(f"{url.url}: the host name {host!r} does not resolve",
                            field="url") from None
    addresses = {ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos}
    if not addresses:
        raise UrlNotAllowed(f"{url.url}: the host name {host!r} does not resolve", field="url")
    return sorted(addresses, key=str)
