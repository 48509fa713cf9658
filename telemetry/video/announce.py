"""Find each linked drone's video: its configured URL, else the URI its camera announces in
VIDEO_STREAM_INFORMATION (MAVLink camera protocol, asked with MAV_CMD_REQUEST_MESSAGE as QGC
does), and hand it to the video hub.

A drone without a camera refuses or ignores the request; it is asked again after a back-off, so
a camera that boots after the autopilot is still found.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Callable

from telemetry.errors import CommandError
from telemetry.link import FleetLink
from telemetry.state import LinkState
from telemetry.video.hub import VideoHub
from telemetry.video.source import InvalidVideoUrl, VideoSource, parse_video_url

log = logging.getLogger(__name__)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

VIDEO_STREAM_ENCODING_H264 = 1  # MAVLink VIDEO_STREAM_ENCODING (0 unknown, 2 H.265)
REQUEST_TIMEOUT_S = 3.0
RETRY_S = (5.0, 60.0)  # first retry, longest back-off


AddressCheck = Callable[[IPAddress], bool]


def announced_source_allowed(source: VideoSource, allows_address: AddressCheck) -> bool:
    """Whether the service may follow what a drone announces: a drone must not make it connect
    anywhere or bind a privileged port. RTSP: an IP address inside the drone networks (no host
    names: nothing to resolve to somewhere else); UDP: a port of 1024 and up, on every address
    or one inside the drone networks. A configured URL is the deployment's own choice."""
    host = source.host.strip("[]")
    if source.kind == "rtp" and host in ("0.0.0.0", "::"):
        return source.port >= 1024
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if source.kind == "rtp" and source.port < 1024:
        return False
    return allows_address(address)


def source_from_announcement(fields: dict[str, object]) -> VideoSource | None:
    """The source a VIDEO_STREAM_INFORMATION describes, or None (not H.264 / no usable URI)."""
    encoding = fields.get("encoding")
    if isinstance(encoding, int) and encoding not in (0, VIDEO_STREAM_ENCODING_H264):
        return None
    uri = str(fields.get("uri", "")).strip().rstrip("\x00")
    if not uri:
        return None
    try:
        return parse_video_url(uri)
    except InvalidVideoUrl as e:
        log.info("announced video URI not usable: %s", e)
        return None


class VideoDiscovery:
    """Keeps the hub's sources in line with the link's drones (a task: `run()`)."""

    def __init__(self, link: FleetLink, hub: VideoHub, configured: dict[int, VideoSource],
                 *, announced: bool = True, period_s: float = 1.0,
                 allows_address: AddressCheck = lambda _a: True) -> None:
        self.link = link
        self.hub = hub
        self.configured = configured
        self.announced = announced
        self.period_s = period_s
        self.allows_address = allows_address
        self._next_try: dict[int, tuple[float, float]] = {}
        self._unreadable: dict[int, tuple[str, float]] = {}  # a port we could not bind, until

    async def run(self) -> None:
        while True:
            try:
                await self.step()
            except Exception:
                log.exception("video discovery step failed")
            await asyncio.sleep(self.period_s)

    async def step(self) -> None:
        linked = {v.vehicle_id: v for v in self.link.vehicles()}
        for drone_id in list(self.hub.sources()):
            if drone_id not in linked and drone_id not in self.configured:
                await self.hub.remove(drone_id)
        for drone_id, source in self.configured.items():
            if self.hub.source(drone_id) is None:
                await self._set(drone_id, source)
        if not self.announced:
            return
        now = time.monotonic()
        for drone_id, vehicle in linked.items():
            if drone_id in self.configured or self.hub.source(drone_id) is not None:
                continue
            if vehicle.state.link is not LinkState.UP or not vehicle.attached:
                continue
            due, backoff = self._next_try.get(drone_id, (0.0, RETRY_S[0]))
            if now < due:
                continue
            self._next_try[drone_id] = (now + backoff, min(backoff * 2, RETRY_S[1]))
            try:
                fields = await vehicle.request_message("VIDEO_STREAM_INFORMATION",
                                                       REQUEST_TIMEOUT_S)
            except (CommandError, TimeoutError) as e:
                log.debug("drone %s: no VIDEO_STREAM_INFORMATION: %s", drone_id, e)
                continue
            announced = source_from_announcement(fields)
            if announced is None:
                continue
            if not announced_source_allowed(announced, self.allows_address):
                log.warning("drone %s announces video at %s, outside what a drone may make "
                            "the service open (NAZORAT_DRONE_NETWORKS, UDP ports from 1024)",
                            drone_id, announced.url)
                continue
            await self._set(drone_id, announced)

    async def _set(self, drone_id: int, source: VideoSource) -> None:
        failed = self._unreadable.get(drone_id)
        if failed is not None and failed[0] == source.url and time.monotonic() < failed[1]:
            return
        try:
            await self.hub.set_source(drone_id, source)
        except OSError as e:  # the port is taken: said once, tried again in a while
            if failed is None or failed[0] != source.url:
                log.warning("drone %s: cannot read video from %s: %s", drone_id, source.url, e)
            self._unreadable[drone_id] = (source.url, time.monotonic() + RETRY_S[1])
            return
        self._unreadable.pop(drone_id, None)
