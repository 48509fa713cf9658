"""Hand MAVLink messages from MAVSDK's callback thread to the event loop, coalesced and bounded.

All MAVSDK callbacks, for every vehicle, run on one C++ thread: whatever a callback does delays
every vehicle. MAVSDK's asyncio wrappers do a `call_soon_threadsafe` (a self-pipe write) plus an
unbounded queue per message and subscription. Here the callback only stores the raw message under
a lock and wakes the loop once per batch, not once per message:
- state-like messages are keyed by (vehicle, message name), latest wins, so a stalled loop costs
  at most one slot per vehicle and message type;
- event-like messages (STATUSTEXT, MISSION_ITEM_REACHED, MISSION_ACK, and ADSB_VEHICLE and the
  relayed Remote ID messages, one per aircraft heard: latest-wins would keep one aircraft) keep
  their order in a ring of `max_events`; overflow drops the oldest and is counted. Remote ID
  messages keep their sending component (`_compid`): the autopilot's are the drone's own.
JSON decoding happens on the loop, in the drain, off MAVSDK's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from mavsdk.plugins.mavlink_direct import MavlinkMessage

from telemetry.decode import statustext_text
from telemetry.remote_id_traffic import COMPID_FIELD, RID_MESSAGES
from telemetry.vehicle import Vehicle

log = logging.getLogger(__name__)

EVENT_MESSAGES = frozenset({"STATUSTEXT", "MISSION_ITEM_REACHED", "MISSION_ACK", "ADSB_VEHICLE",
                            *RID_MESSAGES})

Batches = dict[Vehicle, list[tuple[str, dict[str, Any]]]]
BatchHandler = Callable[[Batches, float, float], None]


class Ingest:
    """The thread-to-loop handover; `offer()` is the only method called off the loop."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, handler: BatchHandler, *, max_events: int = 10_000
    ) -> None:
        self._loop = loop
        self._handler = handler
        self._lock = threading.Lock()
        self._states: dict[tuple[Vehicle, str], str] = {}
        self._events: deque[tuple[Vehicle, str, str, int]] = deque(maxlen=max_events)
        self._scheduled = False
        self._closed = False
        self.dropped_events = 0
        self.received = 0
        self.batches = 0
        # per vehicle id; kept after a vehicle is removed so counters never go backwards
        self.received_by_vehicle: dict[int, int] = {}

    def offer(self, vehicle: Vehicle, msg: MavlinkMessage) -> None:
        """Called on MAVSDK's thread for every subscribed message: store, maybe wake the loop."""
        name = msg.message_name
        with self._lock:
            if self._closed:
                return
            self.received += 1
            vid = vehicle.vehicle_id
            self.received_by_vehicle[vid] = self.received_by_vehicle.get(vid, 0) + 1
            if name in EVENT_MESSAGES:
                if len(self._events) == self._events.maxlen:
                    self.dropped_events += 1
                self._events.append((vehicle, name, msg.fields_json, msg.component_id))
            else:
                self._states[(vehicle, name)] = msg.fields_json
            if self._scheduled:
                return
            self._scheduled = True
        with contextlib.suppress(RuntimeError):  # loop closed during shutdown
            self._loop.call_soon_threadsafe(self._drain)

    def received_per_vehicle(self) -> dict[int, int]:
        """Messages received per vehicle id (a copy, taken under the producer's lock)."""
        with self._lock:
            return dict(self.received_by_vehicle)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._states.clear()
            self._events.clear()

    def _drain(self) -> None:
        with self._lock:
            states, self._states = self._states, {}
            events = list(self._events)
            self._events.clear()
            self._scheduled = False
        self.batches += 1
        now, mono = time.time(), time.monotonic()
        batches: Batches = {}
        for (vehicle, name), text in states.items():
            fields = _loads(text)
            if fields is not None:
                batches.setdefault(vehicle, []).append((name, fields))
        for vehicle, name, text, compid in events:
            fields = _loads(text)
            if fields is None:
                continue
            if name in RID_MESSAGES:
                fields[COMPID_FIELD] = compid
            if name == "MISSION_ACK":
                vehicle.note_mission_ack(fields, mono)
                continue
            if name == "STATUSTEXT":
                severity = int(fields.get("severity", 6))
                vehicle.note_statustext(severity, statustext_text(fields), mono)
            batches.setdefault(vehicle, []).append((name, fields))
        if batches:
            try:
                self._handler(batches, now, mono)
            except Exception:  # a decoding bug must not stop the link
                log.exception("telemetry batch handler failed")


def _loads(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        log.warning("undecodable MAVLink JSON: %.200s", text)
        return None
    return value if isinstance(value, dict) else None
