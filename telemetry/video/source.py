"""Where a drone's video comes from: a URL from the drone's configuration or from its
VIDEO_STREAM_INFORMATION announcement, checked before anything listens or connects.

- `udp://HOST:PORT`: an RTP/H.264 stream sent to the service (ArduPilot set-ups, QGC's
  convention: the URI names where the ground end listens; 0.0.0.0 = every address);
- `rtsp://...` (and rtsps): a camera or companion computer serving RTSP."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit


class InvalidVideoUrl(ValueError):
    """A video URL Nazorat cannot read (the message says why)."""


@dataclass(frozen=True)
class VideoSource:
    url: str
    kind: str  # "rtp" (udp) | "rtsp"
    host: str = ""
    port: int = 0


def parse_video_url(raw: str) -> VideoSource:
    url = raw.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise InvalidVideoUrl(f"{raw!r}: {e}") from None
    scheme = parts.scheme.lower()
    if scheme == "udp":
        host = parts.hostname or "0.0.0.0"
        if port is None or not 1 <= port <= 65535:
            raise InvalidVideoUrl(f"{raw!r}: a udp video URL needs a port (udp://0.0.0.0:5600)")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise InvalidVideoUrl(f"{raw!r}: the address to listen on must be an IP") from None
        return VideoSource(f"udp://{host}:{port}", "rtp", host, port)
    if scheme in ("rtsp", "rtsps"):
        if not parts.hostname:
            raise InvalidVideoUrl(f"{raw!r}: an RTSP URL needs a host")
        return VideoSource(url, "rtsp", parts.hostname, port or 554)
    raise InvalidVideoUrl(f"{raw!r}: only udp:// (RTP/H.264) and rtsp:// video is supported")


def parse_video_urls(entries: tuple[str, ...]) -> dict[int, VideoSource]:
    """NAZORAT_VIDEO_URLS entries `DRONE_ID=URL` → sources by drone id (ValueError naming the
    variable and the entry)."""
    out: dict[int, VideoSource] = {}
    for entry in entries:
        key, sep, url = entry.partition("=")
        if not sep or not key.strip().isdigit():
            raise ValueError(f"NAZORAT_VIDEO_URLS: {entry!r} is not DRONE_ID=URL")
        try:
            out[int(key)] = parse_video_url(url)
        except InvalidVideoUrl as e:
            raise ValueError(f"NAZORAT_VIDEO_URLS: {e}") from None
    return out
