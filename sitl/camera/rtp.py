"""H.264 over RTP (RFC 6184, packetization-mode 1) for the simulated camera.

One access unit in, a list of RTP packets out: a NAL unit that fits in one packet goes alone
(single NAL unit packet), a larger one is cut into FU-A fragments; the marker bit is set on the
last packet of the access unit and every packet of it carries the same 90 kHz timestamp. STAP-A
aggregation is not used: RFC 6184 does not require it and a receiver must accept single NALs.
Written here (some sixty lines) rather than through FFmpeg's rtp muxer so that each frame leaves
the moment it is encoded, with no muxer buffering in between.
"""

from __future__ import annotations

import random
import struct

PAYLOAD_TYPE = 96
CLOCK_HZ = 90_000
MAX_PAYLOAD = 1200  # bytes of RTP payload: stays under a 1500-byte MTU with IP/UDP/RTP headers
FU_A = 28


def split_annexb(data: bytes) -> list[bytes]:
    """The NAL units of an Annex-B byte stream (start codes 00 00 01 or 00 00 00 01 removed)."""
    nals: list[bytes] = []
    starts: list[tuple[int, int]] = []  # (start code position, first NAL byte)
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        begin = i - 1 if i > 0 and data[i - 1] == 0 else i
        starts.append((begin, i + 3))
        i = data.find(b"\x00\x00\x01", i + 3)
    for k, (_, first) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(data)
        nal = data[first:end]
        if nal:
            nals.append(nal)
    return nals


class RtpPacketiser:
    """Sequence numbers, SSRC and the packet layout of one H.264 RTP stream."""

    def __init__(self, ssrc: int | None = None, seq: int | None = None,
                 max_payload: int = MAX_PAYLOAD) -> None:
        rng = random.SystemRandom()
        self.ssrc = rng.getrandbits(32) if ssrc is None else ssrc
        self.seq = rng.getrandbits(16) if seq is None else seq
        self.max_payload = max_payload

    def _packet(self, payload: bytes, timestamp: int, marker: bool) -> bytes:
        header = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | PAYLOAD_TYPE,
                             self.seq, timestamp & 0xFFFFFFFF, self.ssrc)
        self.seq = (self.seq + 1) & 0xFFFF
        return header + payload

    def packetise(self, access_unit: bytes, timestamp: int) -> list[bytes]:
        """RTP packets for one access unit (Annex-B) at a 90 kHz `timestamp`."""
        payloads: list[bytes] = []
        for nal in split_annexb(access_unit):
            if len(nal) <= self.max_payload:
                payloads.append(nal)
                continue
            indicator = (nal[0] & 0xE0) | FU_A
            nal_type = nal[0] & 0x1F
            body = nal[1:]
            size = self.max_payload - 2
            for offset in range(0, len(body), size):
                start = 0x80 if offset == 0 else 0
                end = 0x40 if offset + size >= len(body) else 0
                payloads.append(bytes((indicator, start | end | nal_type))
                                + body[offset:offset + size])
        last = len(payloads) - 1
        return [self._packet(p, timestamp, i == last) for i, p in enumerate(payloads)]
