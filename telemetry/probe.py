"""Learn which MAVLink system id answers on a connection URL, before MAVSDK connects to it.

Why: MAVSDK keys systems by system id, and two vehicles with the same id on different
connections are silently merged into one System with interleaved telemetry. Once merged they
cannot be told apart, so a second drone with an id already in use must be refused *before* its
connection is added. The probe opens the URL itself for a moment, reads the first autopilot
HEARTBEAT and closes again; the vehicle then sees an ordinary reconnect from MAVSDK.

Supported for tcpout, udpin and udpout URLs. For tcpin and serial the caller must give the
system id (or accept the first new system that appears).

Every failure is the same error with the same message, given when the whole timeout has passed:
a closed port (refused at once), a filtered one (no answer), an open port that does not speak
MAVLink, a connection closed early or an address that cannot be bound. Otherwise the API that
adds drones tells an operator whether an arbitrary host:port is open, by its words or by how
fast it answers. The actual cause is logged for whoever runs the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from typing import Any

from pymavlink.dialects.v20 import common as mavlink2

from telemetry import ardupilot as ap
from telemetry.urls import ConnectionUrl

log = logging.getLogger(__name__)


class ProbeError(RuntimeError):
    """Nothing that looks like an autopilot answered on the URL in time."""


def no_answer(url: ConnectionUrl, timeout_s: float) -> str:
    """The one message of every failed probe (see the module docstring for why)."""
    return f"{url.url}: no MAVLink autopilot answered within {timeout_s:.1f} s"


class _Sink:
    """pymavlink wants a file to write to; the probe only needs the encoded bytes."""

    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data


def _gcs_heartbeat(sysid: int, compid: int) -> bytes:
    sink = _Sink()
    m = mavlink2.MAVLink(sink, srcSystem=sysid, srcComponent=compid)
    m.heartbeat_send(ap.MAV_TYPE_GCS, ap.MAV_AUTOPILOT_INVALID, 0, 0, 0)
    return sink.data


class _HeartbeatFinder:
    """Feeds raw bytes to a MAVLink parser until an autopilot HEARTBEAT shows up."""

    def __init__(self) -> None:
        self._parser = mavlink2.MAVLink(None)
        self._parser.robust_parsing = True

    def feed(self, data: bytes) -> int | None:
        try:
            msgs: list[Any] = self._parser.parse_buffer(data) or []
        except Exception:  # garbage on the wire: keep looking
            return None
        for msg in msgs:
            if msg.get_type() != "HEARTBEAT":
                continue
            if msg.autopilot == ap.MAV_AUTOPILOT_INVALID or msg.type == ap.MAV_TYPE_GCS:
                continue
            return int(msg.get_srcSystem())
        return None


async def probe_sysid(
    url: ConnectionUrl, timeout_s: float = 5.0, *, gcs_sysid: int = 245, gcs_compid: int = 190
) -> int:
    """Return the system id of the first autopilot heartbeat on `url`; otherwise ProbeError
    with `no_answer()`, raised `timeout_s` after the call whatever the cause."""
    if url.scheme not in ("tcpout", "udpin", "udpout"):  # says nothing about the port
        raise ProbeError(f"{url.url}: cannot probe a {url.scheme} connection; give the system id")
    deadline = time.monotonic() + timeout_s
    hello = _gcs_heartbeat(gcs_sysid, gcs_compid)
    try:
        if url.scheme == "tcpout":
            return await _probe_tcp(url, timeout_s, hello)
        return await asyncio.to_thread(_probe_udp, url, timeout_s, hello)
    except (ProbeError, OSError, ValueError) as e:  # ValueError: e.g. a name IDNA refuses
        log.info("probe of %s failed: %s", url.url, e)
    await asyncio.sleep(max(0.0, deadline - time.monotonic()))
    raise ProbeError(no_answer(url, timeout_s))


async def _probe_tcp(url: ConnectionUrl, timeout_s: float, hello: bytes) -> int:
    finder = _HeartbeatFinder()
    deadline = time.monotonic() + timeout_s
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(url.host, url.port)
    except (OSError, TimeoutError) as e:
        raise ProbeError(f"{url.url}: cannot connect: {e or 'timeout'}") from None
    try:
        writer.write(hello)
        while (left := deadline - time.monotonic()) > 0:
            try:
                async with asyncio.timeout(left):
                    data = await reader.read(4096)
            except TimeoutError:
                break
            except OSError as e:  # reset by the peer (e.g. it closed as our hello arrived)
                raise ProbeError(f"{url.url}: connection lost before any heartbeat: {e}") from None
            if not data:
                raise ProbeError(f"{url.url}: connection closed before any heartbeat")
            sysid = finder.feed(data)
            if sysid is not None:
                return sysid
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(1.0):
                await writer.wait_closed()
    raise ProbeError(f"{url.url}: no autopilot heartbeat within {timeout_s:.1f} s")


def _probe_udp(url: ConnectionUrl, timeout_s: float, hello: bytes) -> int:
    """Blocking; runs in a worker thread (a UDP probe is rare and short)."""
    finder = _HeartbeatFinder()
    deadline = time.monotonic() + timeout_s
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        if url.scheme == "udpin":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((url.host, url.port))
            except OSError as e:
                raise ProbeError(f"{url.url}: cannot listen: {e}") from None
        next_hello = 0.0
        while (left := deadline - time.monotonic()) > 0:
            if url.scheme == "udpout" and time.monotonic() >= next_hello:
                sock.sendto(hello, (url.host, url.port))
                next_hello = time.monotonic() + 0.5
            sock.settimeout(min(left, 0.5))
            try:
                data, _ = sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:  # ICMP port unreachable on udpout: keep trying until the deadline
                time.sleep(0.1)
                continue
            sysid = finder.feed(data)
            if sysid is not None:
                return sysid
    finally:
        sock.close()
    raise ProbeError(f"{url.url}: no autopilot heartbeat within {timeout_s:.1f} s")
