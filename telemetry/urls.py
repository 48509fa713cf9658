"""Connection URLs: validate and normalise them before MAVSDK sees them.

MAVSDK 4.x accepts `udpin://ADDR:PORT`, `udpout://HOST:PORT`, `tcpin://ADDR:PORT`,
`tcpout://HOST:PORT` and `serial:///dev/ttyX:BAUD`, rejects `udpin://:PORT` and
`udpout://0.0.0.0:PORT`, and accepts a `tcpout://` to a closed port as a success. Checking here
gives the API caller an error that says what is wrong instead of MAVSDK's bare
CONNECTION_URL_INVALID, and lets the pymavlink-style forms our tools print
(`tcp:127.0.0.1:5760`, `udp:0.0.0.0:14550`) be used as well.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SCHEMES = ("udpin", "udpout", "tcpin", "tcpout", "serial")
_ALIASES = {"tcp": "tcpout", "udp": "udpin", "udpin": "udpin", "udpout": "udpout",
            "tcpin": "tcpin", "tcpout": "tcpout", "serial": "serial"}
_HOSTPORT = re.compile(r"^(?P<host>[A-Za-z0-9_.\-]+|\[[0-9A-Fa-f:]+\]):(?P<port>\d{1,5})$")


class InvalidUrl(ValueError):
    """The connection URL cannot work; the message says why."""


@dataclass(frozen=True)
class ConnectionUrl:
    """A parsed connection URL. `url` is the normalised MAVSDK form."""

    scheme: str
    host: str = ""
    port: int = 0
    device: str = ""
    baud: int = 0

    @property
    def url(self) -> str:
        if self.scheme == "serial":
            return f"serial://{self.device}:{self.baud}"
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def listens(self) -> bool:
        """True for URLs where we wait for vehicles to come to us."""
        return self.scheme in ("udpin", "tcpin")


def parse_url(raw: str) -> ConnectionUrl:
    """Parse and check `raw`; raises InvalidUrl naming the problem."""
    text = raw.strip()
    if "://" in text:
        scheme, rest = text.split("://", 1)
    elif ":" in text:
        scheme, rest = text.split(":", 1)
    else:
        raise InvalidUrl(f"{raw!r}: expected SCHEME://HOST:PORT or serial:///dev/DEVICE:BAUD")
    scheme = scheme.lower()
    if scheme not in _ALIASES:
        raise InvalidUrl(f"{raw!r}: unknown scheme {scheme!r}; use one of {', '.join(_SCHEMES)}")
    scheme = _ALIASES[scheme]
    if scheme == "serial":
        device, sep, baud = rest.rpartition(":")
        if not sep or not device.startswith("/") and not device.upper().startswith("COM"):
            raise InvalidUrl(f"{raw!r}: serial URLs look like serial:///dev/ttyUSB0:57600")
        if not baud.isdigit() or int(baud) <= 0:
            raise InvalidUrl(f"{raw!r}: serial baud rate must be a positive integer")
        return ConnectionUrl(scheme="serial", device=device, baud=int(baud))
    m = _HOSTPORT.match(rest)
    if m is None:
        if rest.startswith(":"):
            raise InvalidUrl(
                f"{raw!r}: an address is required (MAVSDK rejects an empty host); "
                f"use 0.0.0.0{rest} to listen on all interfaces"
            )
        raise InvalidUrl(f"{raw!r}: expected HOST:PORT after the scheme")
    host, port = m.group("host"), int(m.group("port"))
    if not 0 < port < 65536:
        raise InvalidUrl(f"{raw!r}: port must be 1..65535")
    if scheme in ("udpout", "tcpout") and host in ("0.0.0.0", "::", "[::]"):
        raise InvalidUrl(f"{raw!r}: {scheme} needs the vehicle's address, not {host}")
    return ConnectionUrl(scheme=scheme, host=host, port=port)
