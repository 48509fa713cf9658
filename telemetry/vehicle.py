"""One vehicle on the fleet link: its MAVSDK plugins, its decoder and its low-level commands.

MAVSDK's asyncio plugin wrappers are thin shells around the ctypes plugins that (a) run every
request on the event loop's *default* executor and (b) turn every subscription into an unbounded
queue. At fleet scale both hurt (20 concurrent arms to silent vehicles took 8 s on the default
6-thread pool; a stalled consumer grows a queue forever), so this module uses the ctypes plugins
bound to the asyncio System's underlying handle, runs blocking requests on the link's own sized
executor, and hands subscription data to the link's coalescing ingest (see link.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, TypeVar

from mavsdk.plugins.mavlink_direct import MavlinkDirect, MavlinkDirectError, MavlinkMessage
from mavsdk.plugins.mission_raw import MissionRaw
from mavsdk.plugins.telemetry import Telemetry, TelemetryError

from telemetry import ardupilot as ap
from telemetry.decode import DECODED_MESSAGES, VehicleDecoder
from telemetry.errors import (
    CommandFailed,
    CommandRejected,
    CommandTimeout,
    LinkDown,
    NotConnected,
)
from telemetry.remote_id_traffic import RID_MESSAGES
from telemetry.state import LinkState, VehicleState
from telemetry.urls import ConnectionUrl

log = logging.getLogger(__name__)
T = TypeVar("T")

# Messages the link subscribes to: the decoded telemetry, MISSION_ACK, which explains why an
# upload failed (MAVSDK's MissionRaw result folds several ACK types into one), and ADSB_VEHICLE,
# the aircraft the drone's ADS-B receiver hears (telemetry/traffic.py), and the Remote ID
# broadcasts a receiver on the drone relays (telemetry/remote_id_traffic.py).
SUBSCRIBED = (*DECODED_MESSAGES, "MISSION_ACK", "ADSB_VEHICLE", *RID_MESSAGES)
# STATUSTEXT prefixes ArduPilot uses to explain a refused arm.
ARM_TEXT_PREFIXES = ("Arm:", "PreArm:")


@dataclass(frozen=True)
class StreamRates:
    """Rates (Hz) requested from every vehicle on (re)connect.

    ArduPilot on a ground-station port sends nothing but HEARTBEAT and STATUSTEXT until asked,
    and MAVSDK 4.x does not ask by itself.
    """

    position_hz: float = 5.0
    status_hz: float = 2.0
    home_hz: float = 0.5
    # ADSB_VEHICLE: ArduPilot relays each aircraft its receiver hears (about 1 Hz each in the
    # patrol-adsb trace); asked for like the rest, or a MAVSDK client gets none.
    adsb_hz: float = 5.0


@dataclass(frozen=True)
class StatusText:
    mono: float
    severity: int
    text: str


MessageSink = Callable[["Vehicle", Any], None]


class Vehicle:
    """A registered vehicle. Created by the link; attached once MAVSDK has its System."""

    def __init__(
        self,
        vehicle_id: int,
        sysid: int,
        url: ConnectionUrl,
        *,
        name: str,
        executor: Executor,
        low_battery_pct: float,
        gcs_sysid: int,
        gcs_compid: int,
        shared_connection: bool = False,
    ) -> None:
        self.vehicle_id = vehicle_id
        self.sysid = sysid
        self.url = url
        self.shared_connection = shared_connection
        self.decoder = VehicleDecoder(
            VehicleState(vehicle_id=vehicle_id, sysid=sysid, name=name),
            low_battery_pct=low_battery_pct,
        )
        self._executor = executor
        self._gcs = (gcs_sysid, gcs_compid)
        self._direct: MavlinkDirect | None = None
        self._telemetry: Telemetry | None = None
        self.mission: MissionRaw | None = None
        self._sub_handles: list[Any] = []
        self.texts: deque[StatusText] = deque(maxlen=64)
        self.mission_acks: deque[tuple[float, int, int]] = deque(maxlen=16)
        self._text_arrived = asyncio.Event()
        self.mission_lock = asyncio.Lock()
        # Bumped by every operator command; a multi-step sequence stops when it changes, so the
        # latest command always wins over an older sequence still in progress.
        self.generation = 0
        self.lost_since: float | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def state(self) -> VehicleState:
        return self.decoder.state

    @property
    def attached(self) -> bool:
        return self._direct is not None

    def attach(self, raw_system: Any, sink: MessageSink) -> None:
        """Create the plugins on MAVSDK's System and subscribe to the decoded messages.

        `sink(vehicle, message)` runs on MAVSDK's callback thread and must only queue.
        """
        if self._direct is not None:
            return
        self._direct = MavlinkDirect(raw_system)
        self._telemetry = Telemetry(raw_system)
        self.mission = MissionRaw(raw_system)
        sysid = self.sysid

        def on_message(msg: MavlinkMessage, _ud: Any) -> None:
            if msg.system_id == sysid:
                sink(self, msg)

        for name in SUBSCRIBED:
            self._sub_handles.append(self._direct.subscribe_message(name, on_message))

    def detach(self) -> None:
        """Release the plugins (unsubscribes); safe to call twice."""
        direct, self._direct = self._direct, None
        telemetry, self._telemetry = self._telemetry, None
        mission, self.mission = self.mission, None
        self._sub_handles.clear()
        for plugin in (direct, telemetry, mission):
            if plugin is not None:
                plugin.destroy()

    # -- things the ingest hands over ------------------------------------------------------------

    def note_statustext(self, severity: int, text: str, mono: float) -> None:
        self.texts.append(StatusText(mono, severity, text))
        self._text_arrived.set()

    def note_mission_ack(self, fields: dict[str, Any], mono: float) -> None:
        self.mission_acks.append(
            (mono, int(fields.get("type", 0)), int(fields.get("mission_type", 0)))
        )

    async def wait_for_text(
        self, prefixes: tuple[str, ...], since: float, timeout_s: float
    ) -> str | None:
        """First STATUSTEXT starting with one of `prefixes` received after `since` (monotonic).

        ArduPilot sends the COMMAND_ACK *before* the `Arm: ...` text explaining it (see the
        reference traces), so a refused arm waits here briefly for the reason.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            for t in self.texts:
                if t.mono >= since and t.text.startswith(prefixes):
                    return t.text
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._text_arrived.clear()
            try:
                async with asyncio.timeout(left):
                    await self._text_arrived.wait()
            except TimeoutError:
                return None

    def latest_text(self, prefixes: tuple[str, ...], max_age_s: float) -> str | None:
        """Newest STATUSTEXT with one of `prefixes` no older than `max_age_s`."""
        now = time.monotonic()
        for t in reversed(self.texts):
            if now - t.mono > max_age_s:
                return None
            if t.text.startswith(prefixes):
                return t.text
        return None

    # -- blocking MAVSDK calls ------------------------------------------------------------------

    async def blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking MAVSDK request on the link's executor."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    def require_link(self, command: str) -> None:
        """Fail fast instead of waiting ~2 s for MAVSDK's retries to a silent vehicle."""
        link = self.state.link
        if link is LinkState.LOST:
            raise LinkDown(command, f"vehicle {self.vehicle_id} link lost: no heartbeat")
        if link is LinkState.CONNECTING or self._direct is None:
            raise NotConnected(command, f"vehicle {self.vehicle_id} has not connected yet")

    async def command_long(
        self, command_name: str, command: int, params: tuple[float, ...] = (),
    ) -> dict[str, Any]:
        """Send COMMAND_LONG and return the COMMAND_ACK fields if ACCEPTED; raise otherwise."""
        p = [float(x) for x in params] + [0.0] * (7 - len(params))
        fields = {
            "target_system": self.sysid, "target_component": 1, "command": command,
            "confirmation": 0, **{f"param{i + 1}": p[i] for i in range(7)},
        }
        return await self._send_command(command_name, command, "COMMAND_LONG", fields)

    async def command_int(
        self, command_name: str, command: int, *, frame: int, params: tuple[float, ...],
        x: int, y: int, z: float,
    ) -> dict[str, Any]:
        """Send COMMAND_INT (positions as degE7) and return the ACK fields if ACCEPTED."""
        p = [float(v) for v in params] + [0.0] * (4 - len(params))
        fields = {
            "target_system": self.sysid, "target_component": 1, "frame": frame,
            "command": command, "current": 0, "autocontinue": 0,
            **{f"param{i + 1}": p[i] for i in range(4)}, "x": x, "y": y, "z": float(z),
        }
        return await self._send_command(command_name, command, "COMMAND_INT", fields)

    async def _send_command(
        self, command_name: str, command: int, message_name: str, fields: dict[str, Any]
    ) -> dict[str, Any]:
        self.require_link(command_name)
        direct = self._direct
        assert direct is not None
        msg = MavlinkMessage(
            message_name=message_name, system_id=self._gcs[0], component_id=self._gcs[1],
            target_system_id=self.sysid, target_component_id=1, fields_json=json.dumps(fields),
        )
        try:
            reply = await self.blocking(direct.send_command, msg)
        except MavlinkDirectError as e:
            name = ap.MAV_CMD_NAMES.get(command, str(command))
            if e.result.name == "TIMEOUT":
                raise CommandTimeout(
                    command_name, f"no COMMAND_ACK for {name} (MAVSDK retried, then gave up)"
                ) from None
            raise CommandFailed(command_name, f"{name}: MAVSDK {e.result.name}") from None
        ack = json.loads(reply.fields_json) if reply.fields_json else {}
        result = int(ack.get("result", -1))
        if result != 0:
            result_name = ap.MAV_RESULT.get(result, str(result))
            name = ap.MAV_CMD_NAMES.get(command, str(command))
            raise CommandRejected(
                command_name, f"{name} refused: {result_name}",
                ack_result=result, ack_name=result_name,
            )
        return ack

    async def send_message(self, name: str, fields: dict[str, Any]) -> None:
        """Send one message (no answer expected) from the ground station's ids."""
        direct = self._direct
        if direct is None:
            raise NotConnected(name, f"vehicle {self.vehicle_id} has not connected yet")
        msg = MavlinkMessage(
            message_name=name, system_id=self._gcs[0], component_id=self._gcs[1],
            target_system_id=self.sysid, target_component_id=0, fields_json=json.dumps(fields),
        )
        await self.blocking(direct.send_message, msg)

    async def request_message(
        self, name: str, timeout_s: float, param2: float = 0.0
    ) -> dict[str, Any]:
        """Ask for one message with MAV_CMD_REQUEST_MESSAGE and return its fields (the first
        one from this vehicle after the request). For messages the link does not stream, e.g.
        VIDEO_STREAM_INFORMATION (telemetry/video/announce.py); TimeoutError if none comes."""
        self.require_link(f"request {name}")
        direct = self._direct
        assert direct is not None
        loop = asyncio.get_running_loop()
        got: asyncio.Future[str] = loop.create_future()
        sysid = self.sysid

        def arrived(text: str) -> None:
            if not got.done():
                got.set_result(text)

        def on_message(msg: MavlinkMessage, _ud: Any) -> None:  # MAVSDK's thread
            if msg.system_id == sysid:
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    loop.call_soon_threadsafe(arrived, msg.fields_json)

        handle = direct.subscribe_message(name, on_message)
        try:
            await self.command_long(f"request {name}", ap.MAV_CMD_REQUEST_MESSAGE,
                                    (float(ap.MSG_ID[name]), param2))
            async with asyncio.timeout(timeout_s):
                text = await got
        finally:
            direct.unsubscribe_message(handle)
        fields = json.loads(text)
        return fields if isinstance(fields, dict) else {}

    async def set_message_interval(self, message: str, rate_hz: float) -> None:
        interval_us = -1.0 if rate_hz <= 0 else 1e6 / rate_hz
        await self.command_long(
            "set_message_interval", ap.MAV_CMD_SET_MESSAGE_INTERVAL,
            (float(ap.MSG_ID[message]), interval_us),
        )

    async def request_streams(self, rates: StreamRates) -> list[str]:
        """Ask the vehicle for the telemetry the decoder needs; returns what it refused.

        Telemetry's set_rate_* covers position, GPS, battery, home and landed state (each sends
        MAV_CMD_SET_MESSAGE_INTERVAL); SYS_STATUS, EKF_STATUS_REPORT and MISSION_CURRENT have no
        setter there and are requested directly. A refusal is logged, not fatal: the vehicle
        may stream it anyway (e.g. when another GCS asked with REQUEST_DATA_STREAM).
        """
        tel = self._telemetry
        if tel is None:
            return ["all: not attached"]
        refused: list[str] = []
        setters: list[tuple[str, Callable[[float], Any], float]] = [
            ("position", tel.set_rate_position, rates.position_hz),
            ("gps_info", tel.set_rate_gps_info, rates.status_hz),
            ("battery", tel.set_rate_battery, rates.status_hz),
            ("landed_state", tel.set_rate_landed_state, rates.status_hz),
            ("home", tel.set_rate_home, rates.home_hz),
        ]
        for label, setter, hz in setters:
            try:
                await self.blocking(setter, hz)
            except TelemetryError as e:
                refused.append(f"{label}: {e.result.name}")
        for message, hz in (
            ("SYS_STATUS", rates.status_hz),
            ("EKF_STATUS_REPORT", rates.status_hz),
            ("MISSION_CURRENT", rates.status_hz),
            ("GLOBAL_POSITION_INT", rates.position_hz),
            ("ADSB_VEHICLE", rates.adsb_hz),
            # the camera footprint on the map: a drone without a camera refuses or sends none
            ("CAMERA_FOV_STATUS", rates.position_hz),
            ("GIMBAL_DEVICE_ATTITUDE_STATUS", rates.position_hz),
        ):
            try:
                await self.set_message_interval(message, hz)
            except (CommandRejected, CommandTimeout, CommandFailed) as e:
                refused.append(f"{message}: {e.message}")
            except (LinkDown, NotConnected):
                refused.append(f"{message}: link down")
                break
        if refused:
            log.info("vehicle %s refused some stream requests: %s", self.vehicle_id, refused)
        return refused
