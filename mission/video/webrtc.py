"""WHEP sessions: one aiortc peer connection per viewer, all fed from the drone's one ingest
(telemetry/video/hub.py), the drone's H.264 passed through without decoding or re-encoding.

aiortc's RTCRtpSender takes an `av.Packet` from a track and only packetises it (H264Encoder.pack:
split the Annex-B access unit into NAL units, STAP-A/FU-A, 90 kHz timestamp), so a viewer costs
RTP packetisation and SRTP, not an encoder. A new viewer starts at the next keyframe (the sender
repeats SPS/PPS before each IDR); a slow one skips to the next keyframe (the hub's queues).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from fractions import Fraction

import av
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.exceptions import InvalidAccessError, InvalidStateError, OperationError
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from telemetry.video.frame import EncodedFrame
from telemetry.video.hub import VideoHub

log = logging.getLogger(__name__)

TIME_BASE = Fraction(1, 90000)


class SessionNotFound(LookupError):
    """No such WHEP session (ended, or never existed)."""


class InvalidOffer(ValueError):
    """The SDP offer cannot be answered (the message says why)."""


class TooManyViewers(RuntimeError):
    """The service's limit of concurrent video sessions is reached."""


class HubTrack(MediaStreamTrack):
    """A video track whose `recv()` returns the drone's encoded frames as av.Packets."""

    kind = "video"

    def __init__(self, frames: AsyncIterator[EncodedFrame]) -> None:
        super().__init__()
        self._frames = frames
        self.sent = 0

    async def recv(self) -> av.Packet:
        try:
            frame = await anext(self._frames)
        except StopAsyncIteration:
            self.stop()
            raise MediaStreamError from None
        packet = av.Packet(frame.data)
        packet.pts = frame.pts
        packet.time_base = TIME_BASE
        self.sent += 1
        return packet

    def stop(self) -> None:
        """End the subscription. While the sender awaits a frame, closing the peer cancels that
        await, which ends the generator (and unsubscribes) by itself; otherwise close it."""
        super().stop()
        aclose = getattr(self._frames, "aclose", None)
        if aclose is not None and not getattr(self._frames, "ag_running", False):
            with contextlib.suppress(RuntimeError):  # no running loop: nothing to close on
                asyncio.get_running_loop().create_task(aclose())


@dataclass
class Session:
    id: str
    drone_id: int
    actor: str
    pc: RTCPeerConnection
    track: HubTrack


class WhepSessions:
    """The live WHEP sessions; `close()` ends all of them (service shutdown)."""

    def __init__(self, hub: VideoHub, *, max_sessions: int = 300) -> None:
        self.hub = hub
        self.max_sessions = max_sessions
        self._sessions: dict[str, Session] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    async def create(self, drone_id: int, offer_sdp: str, actor: str) -> tuple[str, str]:
        """Answer a viewer's SDP offer; returns (session id, SDP answer). NoVideo when the
        drone has no video source, InvalidOffer when the offer has no H.264 video to receive."""
        self.hub.require(drone_id)
        if len(self._sessions) >= self.max_sessions:
            raise TooManyViewers(f"{self.max_sessions} video sessions are open already")
        if "m=video" not in offer_sdp:
            raise InvalidOffer("the offer has no video media section (m=video)")
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        track = HubTrack(self.hub.subscribe(drone_id))
        try:
            # The transceiver exists before the offer is applied, with H.264 as its only codec:
            # aiortc matches the offer's video section to it and negotiates only H.264 (its
            # preferences cannot change once the offer has created the transceiver).
            transceiver = pc.addTransceiver(track, direction="sendonly")
            transceiver.setCodecPreferences(
                [c for c in RTCRtpSender.getCapabilities("video").codecs
                 if c.mimeType.lower() in ("video/h264", "video/rtx")])
            await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except InvalidOffer:
            track.stop()
            await pc.close()
            raise
        except (ValueError, RuntimeError, OperationError, InvalidAccessError,
                InvalidStateError) as e:  # aiortc's refusals of a malformed offer
            track.stop()
            await pc.close()
            raise InvalidOffer(f"the SDP offer cannot be answered: {e}") from None
        answer = pc.localDescription.sdp
        if "H264" not in answer:
            track.stop()
            await pc.close()
            raise InvalidOffer("the browser offered no H.264 (packetization-mode 1) to receive")
        sid = secrets.token_urlsafe(16)
        session = Session(sid, drone_id, actor, pc, track)
        self._sessions[sid] = session

        @pc.on("connectionstatechange")
        async def _changed() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self.delete(sid, missing_ok=True)

        return sid, answer

    def get(self, session_id: str) -> Session:
        try:
            return self._sessions[session_id]
        except KeyError:
            raise SessionNotFound(f"no video session {session_id}") from None

    async def delete(self, session_id: str, *, missing_ok: bool = False) -> None:
        session = self._sessions.pop(session_id, None)
        if session is None:
            if missing_ok:
                return
            raise SessionNotFound(f"no video session {session_id}")
        session.track.stop()
        await session.pc.close()

    def stats(self) -> dict[int, int]:
        """Open sessions per drone."""
        out: dict[int, int] = {}
        for s in self._sessions.values():
            out[s.drone_id] = out.get(s.drone_id, 0) + 1
        return out

    async def close(self) -> None:
        for sid in list(self._sessions):
            with contextlib.suppress(Exception):
                await self.delete(sid, missing_ok=True)
