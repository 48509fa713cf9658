"""A receiver's side of H.264 over RTP (RFC 6184) for tests: datagrams in, access units out.

Only what the simulated camera sends (single NAL unit packets and FU-A, marker bit ending an
access unit); an access unit with a lost packet is dropped whole, as a real receiver would.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

START = b"\x00\x00\x00\x01"


@dataclass
class RtpHeader:
    version: int
    marker: bool
    payload_type: int
    seq: int
    timestamp: int
    ssrc: int


def header(packet: bytes) -> RtpHeader:
    b0, b1, seq, ts, ssrc = struct.unpack("!BBHII", packet[:12])
    return RtpHeader(b0 >> 6, bool(b1 & 0x80), b1 & 0x7F, seq, ts, ssrc)


@dataclass
class Depacketiser:
    nals: list[bytes] = field(default_factory=list)
    fragment: bytearray | None = None
    last_seq: int | None = None
    broken: bool = False

    def push(self, packet: bytes) -> tuple[int, bytes] | None:
        """Feed one datagram; returns (timestamp, Annex-B access unit) when one completes."""
        h = header(packet)
        assert h.version == 2 and h.payload_type == 96 and not packet[0] & 0x30  # no pad/ext
        if self.last_seq is not None and h.seq != (self.last_seq + 1) & 0xFFFF:
            self.broken = True
        self.last_seq = h.seq
        payload = packet[12:]
        kind = payload[0] & 0x1F
        if kind == 28:  # FU-A
            fu = payload[1]
            if fu & 0x80:
                self.fragment = bytearray([(payload[0] & 0xE0) | (fu & 0x1F)])
            if self.fragment is None:
                self.broken = True
            else:
                self.fragment += payload[2:]
                if fu & 0x40:
                    self.nals.append(bytes(self.fragment))
                    self.fragment = None
        else:
            assert 1 <= kind <= 23, f"unexpected NAL/packet type {kind}"
            self.nals.append(payload)
        if not h.marker:
            return None
        nals, broken = self.nals, self.broken or self.fragment is not None
        self.nals, self.fragment, self.broken = [], None, False
        if broken:
            return None
        return h.timestamp, b"".join(START + n for n in nals)
