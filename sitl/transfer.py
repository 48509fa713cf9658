"""The MAVLink mission protocol (MISSION, FENCE and RALLY types) as ArduPilot's MissionItemProtocol.

Upload: MISSION_COUNT -> the vehicle asks each item with MISSION_REQUEST (the traces show the
non-INT request even to a client sending MISSION_ITEM_INT) -> MISSION_ACK. Items are written as
they arrive, so a refused upload leaves a truncated mission behind, as on the real vehicle: a
client must read the mission back to know what the vehicle holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from sitl import mission_items as mi
from sitl.fence import FenceError, parse_fence
from sitl.vehicle_consts import DEBUG, INFO, WARNING

if TYPE_CHECKING:
    from sitl.link import Channel, VehicleLink

RETRY_S = 1.0      # re-ask a missing item after this much vehicle time
TIMEOUT_S = 8.0    # then give up, as ArduPilot's upload timeout does


@dataclass
class Upload:
    mission_type: int
    count: int
    channel: Channel
    target: tuple[int, int]
    next_seq: int
    items: list[mi.Item] = field(default_factory=list)
    tail: list[mi.Item] = field(default_factory=list)  # kept after a partial (range) upload
    last_activity: float = 0.0
    last_request: float = 0.0


class MissionProtocol:
    def __init__(self, link: VehicleLink) -> None:
        self.link = link
        self.v = link.vehicle
        self.uploads: dict[int, Upload] = {}

    # ---- helpers --------------------------------------------------------------------------------
    def _ack(self, ch: Channel, target: tuple[int, int], result: int, mission_type: int) -> None:
        self.link.send(ch, mavlink.MAVLink_mission_ack_message(
            target[0], target[1], result, mission_type))

    def _stored(self, mission_type: int) -> list[mi.Item]:
        items = self.v.missions[mission_type]
        if mission_type == mi.MISSION:
            # seq 0 is always the vehicle's home, whatever was uploaded there.
            rest = items[1:] if items else []
            return [self.v.home_item(), *rest]
        return items

    def _request(self, up: Upload) -> None:
        up.last_request = self.v.time
        self.link.send(up.channel, mavlink.MAVLink_mission_request_message(
            up.target[0], up.target[1], up.next_seq, up.mission_type))

    # ---- upload ---------------------------------------------------------------------------------
    def on_count(self, ch: Channel, msg: Any) -> None:
        mtype = getattr(msg, "mission_type", 0)
        target = (msg.get_srcSystem(), msg.get_srcComponent())
        if mtype not in mi.CAPACITY:
            self._ack(ch, target, mi.UNSUPPORTED, mtype)
            return
        if msg.count > mi.CAPACITY[mtype]:
            self._ack(ch, target, mi.NO_SPACE, mtype)
            return
        if msg.count == 0:
            self._store(mtype, [])
            self._ack(ch, target, mi.ACCEPTED, mtype)
            return
        up = Upload(mtype, msg.count, ch, target, 0, last_activity=self.v.time)
        self.uploads[mtype] = up
        self._request(up)

    def on_partial_list(self, ch: Channel, msg: Any) -> None:
        mtype = getattr(msg, "mission_type", 0)
        target = (msg.get_srcSystem(), msg.get_srcComponent())
        stored = self._stored(mtype)
        start, end = msg.start_index, msg.end_index
        if end == -1:
            end = len(stored) - 1
        if mtype != mi.MISSION or start < 1 or start > len(stored) or end < start \
                or end >= mi.CAPACITY[mtype]:
            self.v.say(WARNING, "Flight plan update rejected")
            self._ack(ch, target, mi.ERROR, mtype)
            return
        up = Upload(mtype, end + 1, ch, target, start, items=list(stored[:start]),
                    tail=list(stored[end + 1:]), last_activity=self.v.time)
        self.uploads[mtype] = up
        self._request(up)

    def on_item(self, ch: Channel, msg: Any, is_int: bool) -> None:
        mtype = getattr(msg, "mission_type", 0)
        target = (msg.get_srcSystem(), msg.get_srcComponent())
        up = self.uploads.get(mtype)
        if up is None:
            self._ack(ch, target, mi.ERROR, mtype)
            return
        if msg.seq < up.next_seq:
            return  # a duplicate of an item we already have: the client will see our next request
        if msg.seq > up.next_seq:
            self._ack(ch, target, mi.INVALID_SEQUENCE, mtype)
            self._request(up)
            return
        item = _item_from_msg(msg, is_int, mtype)
        result = mi.validate(item) if not (mtype == mi.MISSION and item.seq == 0) else mi.ACCEPTED
        if result != mi.ACCEPTED:
            del self.uploads[mtype]
            self._store(mtype, up.items + up.tail, partial=True)
            self._ack(ch, target, result, mtype)
            return
        up.items.append(item)
        up.next_seq += 1
        up.last_activity = self.v.time
        if up.next_seq < up.count:
            self._request(up)
            return
        del self.uploads[mtype]
        if mtype == mi.FENCE:
            try:
                fence = parse_fence([(it.command, it.param1, it.param2, it.lat, it.lon)
                                     for it in up.items])
            except FenceError:
                self._ack(ch, target, mi.INVALID, mtype)
                return
            self.v.fence = fence
        self._store(mtype, up.items + up.tail)
        self._ack(ch, target, mi.ACCEPTED, mtype)
        if mtype == mi.MISSION:
            self.v.say(INFO, "Flight plan received")
        elif mtype == mi.FENCE:
            self.v.say(DEBUG, "Fence Indexed OK")

    def _store(self, mtype: int, items: list[mi.Item], partial: bool = False) -> None:
        if mtype == mi.MISSION and items:
            items = [self.v.home_item(), *items[1:]]
        if mtype == mi.FENCE and partial:
            self.v.fence = parse_fence([])
        self.v.store_mission(mtype, items)
        self.link.received.append({"t": round(self.v.time, 3), "stored": mtype,
                                   "items": len(items)})
        total_param = {mi.MISSION: "MIS_TOTAL", mi.FENCE: "FENCE_TOTAL", mi.RALLY: "RALLY_TOTAL"}
        name = total_param[mtype]
        self.v.set_param(name, len(items))

    def tick(self) -> None:
        """Re-ask a missing item, and abandon an upload the client stopped feeding."""
        for mtype, up in list(self.uploads.items()):
            if self.v.time - up.last_activity > TIMEOUT_S:
                del self.uploads[mtype]
                self._store(mtype, up.items, partial=True)
                self._ack(up.channel, up.target, mi.OPERATION_CANCELLED, mtype)
            elif self.v.time - up.last_request > RETRY_S:
                self._request(up)

    # ---- download and housekeeping --------------------------------------------------------------
    def on_request_list(self, ch: Channel, msg: Any) -> None:
        mtype = getattr(msg, "mission_type", 0)
        target = (msg.get_srcSystem(), msg.get_srcComponent())
        if mtype not in mi.CAPACITY:
            self._ack(ch, target, mi.UNSUPPORTED, mtype)
            return
        count = len(self._stored(mtype)) if (mtype != mi.MISSION or self.v.missions[mtype]) else 1
        self.link.send(ch, mavlink.MAVLink_mission_count_message(
            target[0], target[1], count, mtype))

    def on_request(self, ch: Channel, msg: Any, want_int: bool) -> None:
        mtype = getattr(msg, "mission_type", 0)
        target = (msg.get_srcSystem(), msg.get_srcComponent())
        up = self.uploads.get(mtype)
        if up is not None and up.channel is ch:
            return  # the client is confused mid-upload; ArduPilot ignores this too
        stored = self._stored(mtype)
        if mtype not in mi.CAPACITY or not 0 <= msg.seq < len(stored):
            self._ack(ch, target, mi.INVALID_SEQUENCE, mtype)
            return
        it = stored[msg.seq]
        current = 1 if (mtype == mi.MISSION and it.seq == self.v.runner.running_seq()) else 0
        if want_int:
            out = mavlink.MAVLink_mission_item_int_message(
                target[0], target[1], it.seq, it.frame, it.command, current, it.autocontinue,
                it.param1, it.param2, it.param3, it.param4, it.x, it.y, it.z, mtype)
        else:
            out = mavlink.MAVLink_mission_item_message(
                target[0], target[1], it.seq, it.frame, it.command, current, it.autocontinue,
                it.param1, it.param2, it.param3, it.param4, it.x / 1e7, it.y / 1e7, it.z, mtype)
        self.link.send(ch, out)

    def on_clear_all(self, ch: Channel, msg: Any) -> None:
        mtype = getattr(msg, "mission_type", 0)
        target = (msg.get_srcSystem(), msg.get_srcComponent())
        if mtype == mavlink.MAV_MISSION_TYPE_ALL:
            for t in mi.CAPACITY:
                self._clear(t)
        elif mtype in mi.CAPACITY:
            self._clear(mtype)
        else:
            self._ack(ch, target, mi.UNSUPPORTED, mtype)
            return
        self._ack(ch, target, mi.ACCEPTED, mtype)

    def _clear(self, mtype: int) -> None:
        self.uploads.pop(mtype, None)
        if mtype == mi.FENCE:
            self.v.fence = parse_fence([])
        self._store(mtype, [])


def _item_from_msg(msg: Any, is_int: bool, mtype: int) -> mi.Item:
    if is_int:
        x, y = int(msg.x), int(msg.y)
    else:
        x, y = round(msg.x * 1e7), round(msg.y * 1e7)
    return mi.stored_form(mi.Item(
        msg.seq, msg.frame, msg.command, msg.current, msg.autocontinue, msg.param1, msg.param2,
        msg.param3, msg.param4, x, y, msg.z, mtype))
