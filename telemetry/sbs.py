"""A ground ADS-B receiver's BaseStation/SBS-1 feed over TCP (dump1090 and most receivers serve
it on port 30003), turned into traffic reports on the hub.

The feed is somebody else's device on the network: it may be down, restart, send garbage or a
line without end. So the client reconnects with a growing pause (up to `max_backoff_s`), keeps
at most `max_line` bytes of a line (the rest of an overlong line is skipped up to its newline
and the line counted bad), and counts bad lines instead of failing on them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from telemetry.hub import TelemetryHub
from telemetry.traffic import BadLine, from_sbs

log = logging.getLogger(__name__)

MAX_LINE = 512  # an SBS-1 MSG line is ~120 bytes
READ_CHUNK = 4096


def parse_feed_url(url: str) -> tuple[str, int]:
    """`tcp://host:port` as (host, port); ValueError naming NAZORAT_ADSB_FEEDS."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "tcp" or not parts.hostname or port is None or parts.path not in ("",
                                                                                       "/"):
        raise ValueError(f"NAZORAT_ADSB_FEEDS: expected tcp://host:port, not {url!r}")
    return parts.hostname, port


@dataclass
class FeedStats:
    url: str
    connected: bool = False
    connects: int = 0
    lines: int = 0
    reports: int = 0
    bad_lines: int = 0
    last_error: str | None = None

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


class SbsFeed:
    """One feed; `run()` until cancelled."""

    def __init__(self, url: str, hub: TelemetryHub, *, max_line: int = MAX_LINE,
                 reconnect_s: float = 1.0, max_backoff_s: float = 30.0,
                 connect_timeout_s: float = 5.0) -> None:
        self.host, self.port = parse_feed_url(url)
        self.source = f"feed:{self.host}:{self.port}"
        self.hub = hub
        self.max_line = max_line
        self.reconnect_s = reconnect_s
        self.max_backoff_s = max_backoff_s
        self.connect_timeout_s = connect_timeout_s
        self.stats = FeedStats(url=f"tcp://{self.host}:{self.port}")

    async def run(self) -> None:
        pause = self.reconnect_s
        while True:
            try:
                async with asyncio.timeout(self.connect_timeout_s):
                    reader, writer = await asyncio.open_connection(self.host, self.port)
            except (OSError, TimeoutError) as e:
                self.stats.last_error = f"connect: {e or type(e).__name__}"
                await asyncio.sleep(pause)
                pause = min(pause * 2, self.max_backoff_s)
                continue
            self.stats.connected = True
            self.stats.connects += 1
            log.info("ADS-B feed %s connected", self.stats.url)
            try:
                await self._read(reader)
                self.stats.last_error = "closed by the receiver"
            except OSError as e:
                self.stats.last_error = f"read: {e}"
            finally:
                self.stats.connected = False
                writer.close()
            pause = self.reconnect_s
            await asyncio.sleep(pause)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        buf = bytearray()
        skipping = False  # inside an overlong line: drop up to its newline
        while chunk := await reader.read(READ_CHUNK):
            buf += chunk
            while True:
                nl = buf.find(b"\n")
                if nl < 0:
                    if len(buf) > self.max_line:
                        if not skipping:
                            self.stats.bad_lines += 1
                        skipping = True
                        buf.clear()
                    break
                line = bytes(buf[:nl])
                del buf[:nl + 1]
                if skipping:
                    skipping = False
                    continue
                if len(line) > self.max_line:
                    self.stats.bad_lines += 1
                    continue
                self.feed_line(line)

    def feed_line(self, raw: bytes) -> None:
        """One line as received (without its newline)."""
        self.stats.lines += 1
        text = raw.decode("ascii", "replace").strip()
        if not text:
            return
        try:
            report = from_sbs(text, self.source, time.time())
        except BadLine:
            self.stats.bad_lines += 1
            return
        if report is not None:
            self.stats.reports += 1
            self.hub.publish_traffic(report)
