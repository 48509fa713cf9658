"""MAVLink FTP, just far enough for the one file ground stations fetch from ArduPilot: the
parameter table as ``@PARAM/param.pck``.

AUTOPILOT_VERSION advertises MAV_PROTOCOL_CAPABILITY_FTP (the traces' real capabilities), so
MAVProxy and Mission Planner download parameters this way rather than with PARAM_REQUEST_LIST.
Without an answer they wait for a timeout and arm with no parameters ("Arming checks
disabled"). Every other path or operation gets a NAK with the MAVFTP error code, as a vehicle
with an empty filesystem would send.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from sitl.params import INT8, INT16, INT32, REAL32, Param

# opcodes and error codes (mavlink FILE_TRANSFER_PROTOCOL payload, "MAVFTP" spec)
OP_TERMINATE, OP_RESET, OP_LIST, OP_OPEN_RO, OP_READ = 1, 2, 3, 4, 5
OP_BURST_READ, OP_ACK, OP_NAK = 15, 128, 129
ERR_FAIL, ERR_INVALID_SESSION, ERR_EOF, ERR_UNKNOWN_COMMAND, ERR_NOT_FOUND = 1, 4, 6, 7, 10

HEADER = struct.Struct("<HBBBBBBI")  # seq session opcode size req_opcode burst_complete pad offset
MAX_DATA = 251 - HEADER.size  # 239
PARAM_FILE = "@PARAM/param.pck"
MAGIC, MAGIC_DEFAULTS = 0x671B, 0x671C
# AP_Param's own type numbers, which param.pck uses (not MAV_PARAM_TYPE)
_AP_TYPE = {INT8: (1, "b"), INT16: (2, "h"), INT32: (3, "i"), REAL32: (4, "f")}


def pack_params(params: Iterable[Param], defaults: dict[str, float] | None) -> bytes:
    """AP_Filesystem_Param's packed format: a header, then per parameter a type byte (flag 1 in
    the high nibble when a differing default follows), a byte of (name length - 1) << 4 | length
    of the prefix shared with the previous name, the rest of the name, the value (and default)."""
    out = bytearray()
    last = b""
    items = sorted(params, key=lambda p: p.name)
    for p in items:
        ap_type, fmt = _AP_TYPE.get(p.ptype, _AP_TYPE[REAL32])
        name = p.name.encode()
        common = 0
        while common < min(len(name) - 1, len(last), 15) and name[common] == last[common]:
            common += 1
        suffix = name[common:]
        value: float | int = p.value if fmt == "f" else int(p.value)
        default = None if defaults is None else defaults.get(p.name)
        has_default = default is not None and default != p.value
        out += bytes([ap_type | (0x10 if has_default else 0), ((len(suffix) - 1) << 4) | common])
        out += suffix + struct.pack("<" + fmt, value)
        if has_default and default is not None:
            out += struct.pack("<" + fmt, default if fmt == "f" else int(default))
        last = name
    magic = MAGIC if defaults is None else MAGIC_DEFAULTS
    return struct.pack("<HHH", magic, len(items), len(items)) + bytes(out)


@dataclass
class _Session:
    data: bytes


class FtpServer:
    """One vehicle's MAVFTP endpoint; `reply` sends a FILE_TRANSFER_PROTOCOL payload back."""

    def __init__(self, params: Callable[[], list[Param]], defaults: Callable[[], dict[str, float]]):
        self._params = params
        self._defaults = defaults
        self._sessions: dict[int, _Session] = {}

    def handle(self, payload: bytes, reply: Callable[[bytes], None]) -> None:
        if len(payload) < HEADER.size:
            return
        seq, session, opcode, size, _, _, _, offset = HEADER.unpack_from(payload)
        data = bytes(payload[HEADER.size:HEADER.size + min(size, MAX_DATA)])

        def ack(body: bytes = b"", off: int = offset, burst_complete: int = 0,
                reply_seq: int = seq + 1) -> None:
            reply(HEADER.pack(reply_seq & 0xFFFF, session, OP_ACK, len(body), opcode,
                              burst_complete, 0, off) + body)

        def nak(*codes: int) -> None:
            reply(HEADER.pack((seq + 1) & 0xFFFF, session, OP_NAK, len(codes), opcode, 0, 0,
                              offset) + bytes(codes))

        if opcode == OP_TERMINATE:
            self._sessions.pop(session, None)
            ack()
        elif opcode == OP_RESET:
            self._sessions.clear()
            ack()
        elif opcode == OP_OPEN_RO:
            path = data.split(b"\x00", 1)[0].decode(errors="replace")
            name, _, query = path.partition("?")
            if name != PARAM_FILE:
                nak(ERR_NOT_FOUND)
                return
            defaults = self._defaults() if "withdefaults=1" in query else None
            # ArduPilot keeps one open file, under the session id the client chose.
            self._sessions = {session: _Session(pack_params(self._params(), defaults))}
            ack(struct.pack("<I", len(self._sessions[session].data)))
        elif opcode in (OP_READ, OP_BURST_READ):
            open_file = self._sessions.get(session)
            if open_file is None:
                nak(ERR_INVALID_SESSION)
                return
            if offset >= len(open_file.data):
                nak(ERR_EOF)
                return
            if opcode == OP_READ:
                ack(open_file.data[offset:offset + min(size or MAX_DATA, MAX_DATA)])
                return
            reply_seq = seq + 1
            for off in range(offset, len(open_file.data), MAX_DATA):
                chunk = open_file.data[off:off + MAX_DATA]
                last = off + MAX_DATA >= len(open_file.data)
                ack(chunk, off=off, burst_complete=1 if last else 0, reply_seq=reply_seq)
                reply_seq += 1
        elif opcode == OP_LIST:
            nak(ERR_NOT_FOUND)
        else:
            nak(ERR_UNKNOWN_COMMAND)


def reply_message(target: tuple[int, int], payload: bytes) -> Any:
    padded = payload + bytes(251 - len(payload))
    return mavlink.MAVLink_file_transfer_protocol_message(0, target[0], target[1], padded)
