"""One vehicle's MAVLink front end: channels, stream rates, commands, parameters, mission protocol.

A Channel is what ArduPilot calls a GCS link (one serial port): it has its own stream rates and
sequence numbers. Several TCP clients on one port share that channel, as bytes on one serial line
would. Bytes to peers are buffered and flushed once per tick, so 100 vehicles cost few syscalls.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from sitl import commands, streams
from sitl.adsb import ADSB_ID, AdsbReceiver
from sitl.camera import messages as camera_messages
from sitl.ftp import FtpServer, reply_message
from sitl.params import DEFAULTS
from sitl.remote_id import RemoteIdState
from sitl.rid_traffic import RELAY_COMPID, RemoteIdRelay
from sitl.transfer import MissionProtocol
from sitl.vehicle import Vehicle

if TYPE_CHECKING:
    from sitl.camera.camera import SimCamera

MAX_PEER_BUFFER = 256 * 1024  # a peer further behind than this misses messages, like a full UART
GCS_COMPONENT = 1
_ID = mavlink


class Peer:
    """A byte sink plus its own parser state (each TCP client or UDP address parses separately)."""

    def __init__(self, write: Callable[[bytes], None], backlog: Callable[[], int],
                 label: str) -> None:
        self.write = write
        self.backlog = backlog
        self.label = label
        self.parser = mavlink.MAVLink(None)
        self.parser.robust_parsing = True
        self.out = bytearray()
        self.closed = False

    def flush(self) -> None:
        if self.out and not self.closed:
            if self.backlog() < MAX_PEER_BUFFER:
                self.write(bytes(self.out))
            self.out.clear()


class Channel:
    def __init__(self, name: str, sysid: int, start_on_connect: bool) -> None:
        self.name = name
        self.peers: list[Peer] = []
        self.packer = mavlink.MAVLink(None, srcSystem=sysid, srcComponent=GCS_COMPONENT)
        # what a Remote ID receiver on the vehicle forwards goes out under its own component
        self.relay_packer = mavlink.MAVLink(None, srcSystem=sysid, srcComponent=RELAY_COMPID)
        self.intervals: dict[int, float] = {}   # msg id -> seconds (vehicle time)
        self.next_due: dict[int, float] = {}
        self.start_on_connect = start_on_connect

    def emit(self, msg: Any, packer: Any = None) -> None:
        if not self.peers:
            return
        data = msg.pack(packer or self.packer)
        for peer in self.peers:
            peer.out += data

    def set_interval(self, msg_id: int, interval: float | None, now: float) -> None:
        if interval is None or interval <= 0:
            self.intervals.pop(msg_id, None)
            self.next_due.pop(msg_id, None)
        else:
            self.intervals[msg_id] = interval
            self.next_due[msg_id] = now + interval


class VehicleLink:
    def __init__(self, vehicle: Vehicle) -> None:
        self.vehicle = vehicle
        self.channels: list[Channel] = []
        self.protocol = MissionProtocol(self)
        self.ftp = FtpServer(vehicle.params.all,
                             lambda: {name: float(d) for name, (d, _) in DEFAULTS.items()})
        self.link_up = True
        self.alive = True
        self.started = False
        self.next_heartbeat = 0.0
        self.next_timesync = 10.0
        self.next_mission_tick = 0.0
        self.adsb: AdsbReceiver | None = None  # with --adsb-count: the fleet's aircraft
        self.rid_relay: RemoteIdRelay | None = None  # with --remote-id-count: nearby drones
        self.remote_id = RemoteIdState()
        self.camera: SimCamera | None = None  # with --camera (sitl/camera)
        self.next_camera_status = 0.0
        # CAMERA_FOV_STATUS and GIMBAL_DEVICE_ATTITUDE_STATUS: one rate for both, on every link;
        # SET_MESSAGE_INTERVAL for either sets it (sitl/commands.py)
        self.camera_status_hz = camera_messages.STATUS_HZ
        # What reached the vehicle, for tests (control op `received`): each COMMAND_LONG/INT
        # and each plan stored, so a test can prove a command was executed once, not twice.
        self.received: deque[dict[str, Any]] = deque(maxlen=1000)

    def add_channel(self, name: str, start_on_connect: bool) -> Channel:
        ch = Channel(name, self.vehicle.sysid, start_on_connect)
        self.channels.append(ch)
        return ch

    def attach(self, ch: Channel, peer: Peer) -> None:
        ch.peers.append(peer)
        if ch.start_on_connect:
            self.started = True

    # ---- output ---------------------------------------------------------------------------------
    def send(self, ch: Channel, msg: Any) -> None:
        if self.link_up and self.alive:
            ch.emit(msg)

    def broadcast(self, msg: Any) -> None:
        if self.link_up and self.alive:
            for ch in self.channels:
                ch.emit(msg)

    def after_step(self) -> None:
        """Send what the vehicle said this step, then whatever stream is due (vehicle time)."""
        v = self.vehicle
        for severity, text in v.outbox:
            self.broadcast(mavlink.MAVLink_statustext_message(severity, text.encode(), 0, 0))
        v.outbox.clear()
        if v.reached_seq is not None:
            self.broadcast(mavlink.MAVLink_mission_item_reached_message(v.reached_seq))
            v.reached_seq = None
        if v.home_changed:
            v.home_changed = False
            for builder in (streams.gps_global_origin, streams.home_position):
                msg = builder(v)
                if msg is not None:
                    self.broadcast(msg)
        for name in v.changed_params:
            self._send_param(None, name)
        v.changed_params.clear()
        now = v.time
        if now >= self.next_heartbeat:
            self.next_heartbeat += 1.0
            self.broadcast(streams.heartbeat(v))
        if now >= self.next_timesync:
            self.next_timesync += 10.0
            self.broadcast(mavlink.MAVLink_timesync_message(0, int(now * 1e9) + 1001))
        if now >= self.next_mission_tick:
            self.next_mission_tick = now + 0.25
            self.protocol.tick()
        if not (self.link_up and self.alive):
            return
        rid = self.remote_id.due(now)
        if rid is not None:
            self.broadcast(rid)
        if self.camera is not None and now >= self.next_camera_status:
            # sent unasked on every link, as the video contract has it
            self.next_camera_status = now + 1.0 / self.camera_status_hz
            for build_status in camera_messages.STREAMED:
                self.broadcast(build_status(self.camera))
        for ch in self.channels:
            if not ch.peers or not ch.next_due:
                continue
            built: dict[int, Any] = {}
            for msg_id, due in ch.next_due.items():
                if due > now:
                    continue
                interval = ch.intervals[msg_id]
                ch.next_due[msg_id] = due + interval if now - due < interval else now + interval
                if msg_id not in built:
                    built[msg_id] = streams.build(msg_id, v)
                if built[msg_id] is not None:
                    ch.emit(built[msg_id])
        if self.adsb is not None:
            # ADSB_VEHICLE goes where it was asked for (REQUEST_DATA_STREAM ALL, or
            # SET_MESSAGE_INTERVAL), each aircraft once a second whatever the rate asked
            targets = [ch for ch in self.channels if ch.peers and ADSB_ID in ch.intervals]
            reports = self.adsb.due(now)
            for ch in targets:
                for report in reports:
                    ch.emit(report)
        if self.rid_relay is not None:
            # a receiver forwards what it hears to every link, asked or not
            relayed = self.rid_relay.due(now)
            for ch in self.channels:
                if ch.peers:
                    for msg in relayed:
                        ch.emit(msg, ch.relay_packer)

    def flush(self) -> None:
        for ch in self.channels:
            for peer in ch.peers:
                peer.flush()

    # ---- input ----------------------------------------------------------------------------------
    def receive(self, ch: Channel, peer: Peer, data: bytes) -> None:
        if not (self.link_up and self.alive):
            return
        try:
            msgs = peer.parser.parse_buffer(data) or []
        except Exception:  # noqa: BLE001 - a garbled frame must never take the vehicle down
            peer.parser = mavlink.MAVLink(None)
            peer.parser.robust_parsing = True
            return
        for msg in msgs:
            if msg.get_type() == "BAD_DATA":
                continue
            try:
                self.handle(ch, msg)
            except Exception:  # noqa: BLE001 - same: one bad message, not a dead vehicle
                continue

    def _for_us(self, msg: Any) -> bool:
        target = getattr(msg, "target_system", 0)
        return target in (0, self.vehicle.sysid)

    def handle(self, ch: Channel, msg: Any) -> None:
        if not self._for_us(msg):
            return
        kind = msg.get_type()
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(self, ch, msg)

    # ---- handlers -------------------------------------------------------------------------------
    def _on_command_long(self, ch: Channel, msg: Any) -> None:
        self._command(ch, msg, msg.command,
                      [msg.param1, msg.param2, msg.param3, msg.param4, msg.param5, msg.param6,
                       msg.param7], frame=None)

    def _on_command_int(self, ch: Channel, msg: Any) -> None:
        self._command(ch, msg, msg.command,
                      [msg.param1, msg.param2, msg.param3, msg.param4, msg.x / 1e7, msg.y / 1e7,
                       msg.z], frame=msg.frame)

    def _command(self, ch: Channel, msg: Any, command: int, p: list[float],
                 frame: int | None) -> None:
        result, after = commands.execute(self, ch, command, p, frame)
        self.received.append({"t": round(self.vehicle.time, 3), "command": command,
                              "confirmation": getattr(msg, "confirmation", None),
                              "result": result})
        self.send(ch, mavlink.MAVLink_command_ack_message(
            command, result, 0, 0, msg.get_srcSystem(), msg.get_srcComponent()))
        for out in after:
            self.send(ch, out)

    def _on_set_mode(self, ch: Channel, msg: Any) -> None:
        # ArduPilot 4.7 answers SET_MODE with no COMMAND_ACK (see the pymavlink trace).
        if msg.base_mode & mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED:
            self.vehicle.set_mode(msg.custom_mode)

    def _on_request_data_stream(self, ch: Channel, msg: Any) -> None:
        groups = [msg.req_stream_id] if msg.req_stream_id else list(streams.STREAM_GROUPS)
        rate = msg.req_message_rate if msg.start_stop else 0
        for group in groups:
            for msg_id in streams.STREAM_GROUPS.get(group, []):
                ch.set_interval(msg_id, 1.0 / rate if rate > 0 else None, self.vehicle.time)
        if not msg.req_stream_id:  # ALL includes ArduPilot's ADSB stream (no MAV_DATA_STREAM id)
            ch.set_interval(ADSB_ID, 1.0 / rate if rate > 0 else None, self.vehicle.time)

    def _on_param_request_list(self, ch: Channel, msg: Any) -> None:
        for p in self.vehicle.params.all():
            self._send_param(ch, p.name, by_index=True)

    def _on_param_request_read(self, ch: Channel, msg: Any) -> None:
        params = self.vehicle.params
        if msg.param_index >= 0:
            p = params.by_index(msg.param_index)
            if p is not None:
                self._send_param(ch, p.name, by_index=True)
            return
        name = _param_name(msg.param_id)
        if params.get(name) is not None:
            self._send_param(ch, name)

    def _on_param_set(self, ch: Channel, msg: Any) -> None:
        name = _param_name(msg.param_id)
        value = msg.param_value
        if math.isnan(value) or math.isinf(value):
            return
        self.vehicle.set_param(name, value)  # unknown names are ignored, as on ArduPilot

    def _send_param(self, ch: Channel | None, name: str, by_index: bool = False) -> None:
        p = self.vehicle.params.get(name)
        if p is None:
            return
        # ArduPilot answers by-name reads and announces changes with param_index 65535 (traces).
        index = p.index if by_index else 65535
        msg = mavlink.MAVLink_param_value_message(
            p.name.encode(), p.value, p.ptype, len(self.vehicle.params), index)
        if ch is None:
            self.broadcast(msg)
        else:
            self.send(ch, msg)

    def _on_timesync(self, ch: Channel, msg: Any) -> None:
        if msg.tc1 == 0:
            self.send(ch, mavlink.MAVLink_timesync_message(int(self.vehicle.time * 1e9), msg.ts1))

    def _on_set_position_target_global_int(self, ch: Channel, msg: Any) -> None:
        v = self.vehicle
        if v.mode.name != "GUIDED" or msg.type_mask & 0x7 == 0x7:
            return
        alt = msg.alt
        if msg.coordinate_frame in (3, 6, 10, 11):
            alt += v.home[2] if v.home else v.ground_amsl
        v.reposition(msg.lat_int / 1e7, msg.lon_int / 1e7, alt)

    def _on_mission_set_current(self, ch: Channel, msg: Any) -> None:
        if self.vehicle.runner.set_current(msg.seq):
            self.send(ch, streams.mission_current(self.vehicle))

    def _on_file_transfer(self, ch: Channel, msg: Any) -> None:
        target = (msg.get_srcSystem(), msg.get_srcComponent())
        self.ftp.handle(bytes(msg.payload),
                        lambda payload: self.send(ch, reply_message(target, payload)))

    def _on_open_drone_id_system(self, ch: Channel, msg: Any) -> None:
        self.remote_id.on_system(msg, self.vehicle.time)

    def _on_open_drone_id_operator_id(self, ch: Channel, msg: Any) -> None:
        self.remote_id.on_operator_id(msg)

    def _on_mission_ack(self, ch: Channel, msg: Any) -> None:
        """The client's ACK after a download: nothing to do."""


def _param_name(raw: Any) -> str:
    if isinstance(raw, bytes):
        raw = raw.decode(errors="replace")
    return str(raw).split("\x00", 1)[0].strip().upper()


_P = MissionProtocol
_HANDLERS: dict[str, Callable[[VehicleLink, Channel, Any], None]] = {
    "COMMAND_LONG": VehicleLink._on_command_long,
    "COMMAND_INT": VehicleLink._on_command_int,
    "SET_MODE": VehicleLink._on_set_mode,
    "REQUEST_DATA_STREAM": VehicleLink._on_request_data_stream,
    "PARAM_REQUEST_LIST": VehicleLink._on_param_request_list,
    "PARAM_REQUEST_READ": VehicleLink._on_param_request_read,
    "PARAM_SET": VehicleLink._on_param_set,
    "TIMESYNC": VehicleLink._on_timesync,
    "SET_POSITION_TARGET_GLOBAL_INT": VehicleLink._on_set_position_target_global_int,
    "MISSION_SET_CURRENT": VehicleLink._on_mission_set_current,
    "MISSION_ACK": VehicleLink._on_mission_ack,
    "OPEN_DRONE_ID_SYSTEM": VehicleLink._on_open_drone_id_system,
    "OPEN_DRONE_ID_OPERATOR_ID": VehicleLink._on_open_drone_id_operator_id,
    "FILE_TRANSFER_PROTOCOL": VehicleLink._on_file_transfer,
    "MISSION_COUNT": lambda link, ch, m: link.protocol.on_count(ch, m),
    "MISSION_WRITE_PARTIAL_LIST": lambda link, ch, m: link.protocol.on_partial_list(ch, m),
    "MISSION_ITEM": lambda link, ch, m: link.protocol.on_item(ch, m, is_int=False),
    "MISSION_ITEM_INT": lambda link, ch, m: link.protocol.on_item(ch, m, is_int=True),
    "MISSION_REQUEST_LIST": lambda link, ch, m: link.protocol.on_request_list(ch, m),
    "MISSION_REQUEST": lambda link, ch, m: link.protocol.on_request(ch, m, want_int=False),
    "MISSION_REQUEST_INT": lambda link, ch, m: link.protocol.on_request(ch, m, want_int=True),
    "MISSION_CLEAR_ALL": lambda link, ch, m: link.protocol.on_clear_all(ch, m),
}
