"""A fake fleet behind our own vehicle-command port, for in-process mission tests.

The only fake the project allows, and only where a real flight proves nothing more: mission,
dispatch, interlock, re-task, recall and restart behaviour is decided by the service from
commands' results and the vehicle states it is told, so a script of both tests it in
milliseconds. What the vehicle does with MAVLink (ACKs, STATUSTEXT, mission transfer, flight)
stays proven against the simulator and a real ArduCopter (test_link_fleet, test_sim_*,
test_conformance_*, and the few end-to-end flights that remain).

`FakeFleet` is both the router (`locate`) and the port (`send`, `read_mission`), applies each
accepted command to the drone's state as ArduCopter would (an upload is held with the home slot
at seq 0; start_mission arms, climbs and flies AUTO from item 1; pause is BRAKE; recall RTL)
and publishes that state to the hub the tracker follows. Tests then fly the drone through its
items (`reach`, `fly_to_end`, `touch_down`), or script a refusal (`refuse`) or silence (`ignore`).
A drone given a camera (`camera`) reports its gimbal with every state, as ArduPilot's mount
streams GIMBAL_DEVICE_ATTITUDE_STATUS, and its gimbal obeys look_at, point_gimbal and
clear_roi.

A drone added to the fleet is owned by the runtime the fleet serves (`owner`: its mission
tracker, as a real link's drones are, mission/fleet/ownership.py), until `release`d.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from dataclasses import dataclass, field

from mission.fleet import vehicle_commands as vc
from mission.fleet.ownership import DroneOwnership
from mission.geo import M_PER_DEG_LAT, m_per_deg_lon
from telemetry.errors import CommandRejected, CommandResult, CommandTimeout, UnknownVehicle
from telemetry.hub import TelemetryHub
from telemetry.mission_item import MissionItem
from telemetry.remote_id_traffic import COMPID_FIELD, RemoteIdTraffic
from telemetry.state import CameraState, EventKind, GeoPoint, LinkState, VehicleState, make_event
from telemetry.traffic import from_adsb_vehicle

BASE = GeoPoint(41.311, 69.279, 450.0)
DEFAULT_PITCH = -60.0  # the simulated camera's default (docs: the video contract)
MISSION_ACTIVE, MISSION_COMPLETE = 3, 5


@dataclass
class FakeDrone:
    state: VehicleState
    items: list[MissionItem] = field(default_factory=list)  # seq 0 = home, as ArduPilot holds
    fence: vc.UploadGeofence | None = None
    sent: list[vc.VehicleCommand] = field(default_factory=list)
    refusals: dict[str, tuple[Exception, int]] = field(default_factory=dict)  # name -> (err, n)
    held: dict[str, asyncio.Event] = field(default_factory=dict)  # name -> released when set
    # the gimbal: (hfov, vfov), pitch, and a bearing (None: along the heading), or a look-at
    # point it follows as the drone moves
    fov: tuple[float, float] | None = None
    pitch: float = DEFAULT_PITCH
    yaw: float | None = None
    roi: tuple[float, float, float] | None = None


class FakeFleet(vc.CommandMethods):
    def __init__(self, hub: TelemetryHub) -> None:
        self.hub = hub
        self.drones: dict[int, FakeDrone] = {}
        self.remote_id_traffic = RemoteIdTraffic()  # as the link keeps it
        self.owner: DroneOwnership | None = None  # told which drones this fleet links

    # -- the fleet ------------------------------------------------------------------------------

    def add(self, drone_id: int, *, at: GeoPoint = BASE, battery_pct: float = 95.0,
            name: str = "") -> FakeDrone:
        """A drone on the ground at `at`, linked, 3D fix, EKF ready: ready to fly."""
        st = VehicleState(vehicle_id=drone_id, sysid=drone_id, name=name or f"fake-{drone_id}",
                          link=LinkState.UP, last_heartbeat=time.time(), position=at,
                          alt_rel=0.0, battery_pct=battery_pct, mode="LOITER", armed=False,
                          landed_state="on_ground", gps_fix="3D", satellites=12, ekf_ok=True,
                          home=at, mission_current=0, mission_total=0, mission_state=1)
        drone = FakeDrone(st)
        self.drones[drone_id] = drone
        if self.owner is not None:
            self.owner.on_acquired(drone_id, 0)
        self._publish(drone)
        return drone

    def release(self, drone_id: int) -> None:
        """This runtime no longer owns the drone (another process took it over); the drone
        stays here, silent, for what the test still wants to look at."""
        if self.owner is not None:
            self.owner.on_released(drone_id)

    def update(self, drone_id: int, **changes: object) -> None:
        """Change what the drone reports (battery, link, position, ...), as telemetry would."""
        d = self.drones[drone_id]
        d.state = dataclasses.replace(d.state, **changes)  # type: ignore[arg-type]
        self._publish(d)

    def refuse(self, drone_id: int, name: str, reason: str = "Arm: Need Position Estimate",
               times: int = 1) -> None:
        """The next `times` commands `name` to the drone are refused by the autopilot, with
        `reason` as its STATUSTEXT."""
        err = CommandRejected(name, "refused by the vehicle", ack_result=4, ack_name="FAILED",
                              statustext=reason)
        self.drones[drone_id].refusals[name] = (err, times)

    def ignore(self, drone_id: int, name: str, times: int = 1) -> None:
        """The next `times` commands `name` get no answer (MAVSDK gives up: a timeout)."""
        err = CommandTimeout(name, "no COMMAND_ACK from the vehicle")
        self.drones[drone_id].refusals[name] = (err, times)

    def hold(self, drone_id: int, name: str) -> asyncio.Event:
        """Commands `name` to the drone wait, unanswered, until the returned event is set (a
        drone slow to answer, or a service stopped while it waits)."""
        release = asyncio.Event()
        self.drones[drone_id].held[name] = release
        return release

    def adsb(self, drone_id: int, icao: int, lat: float, lon: float, alt_amsl: float, *,
             heading: float = 0.0, speed: float = 0.0, vrate: float = 0.0,
             callsign: str = "", tslc: int = 0, emitter: int = 7) -> None:
        """The drone's ADS-B receiver heard an aircraft: an ADSB_VEHICLE with these values
        (MAVLink units), decoded as the link decodes it and published to the hub."""
        fields = {"ICAO_address": icao, "lat": round(lat * 1e7), "lon": round(lon * 1e7),
                  "altitude_type": 0, "altitude": round(alt_amsl * 1000),
                  "heading": round(heading * 100) % 36000, "hor_velocity": round(speed * 100),
                  "ver_velocity": round(vrate * 100), "callsign": callsign,
                  "emitter_type": emitter, "tslc": tslc, "flags": 511, "squawk": 1200}
        report = from_adsb_vehicle(fields, drone_id, time.time())
        assert report is not None
        self.hub.publish_traffic(report)

    def remote_id(self, drone_id: int, uas_id: str, lat: float, lon: float, alt_amsl: float, *,
                  heading: float = 0.0, speed: float = 0.0, vrate: float = 0.0,
                  mac: int = 0x0A0B0C, ua_type: int = 2, compid: int = 191,
                  timestamp: float | None = None, basic_id: bool = True) -> None:
        """A receiver on the drone (component `compid`) relayed a broadcaster it heard: its
        OPEN_DRONE_ID_BASIC_ID (unless `basic_id` is False) and OPEN_DRONE_ID_LOCATION, as
        MAVSDK's JSON gives them (MAVLink units), decoded as the link decodes them and
        published to the hub. `timestamp`: seconds after the hour (default: now)."""
        now = time.time()
        id_or_mac = [mac >> (8 * i) & 0xFF for i in range(6)] + [0] * 14
        head = {"target_system": 0, "target_component": 0, "id_or_mac": id_or_mac,
                COMPID_FIELD: compid}
        raw = list(uas_id.encode()) + [0] * (20 - len(uas_id))
        messages = [("OPEN_DRONE_ID_BASIC_ID",
                     {**head, "id_type": 1, "ua_type": ua_type, "uas_id": raw})] if basic_id \
            else []
        messages.append(("OPEN_DRONE_ID_LOCATION", {
            **head, "status": 2, "direction": round(heading * 100) % 36000,
            "speed_horizontal": round(speed * 100), "speed_vertical": round(vrate * 100),
            "latitude": round(lat * 1e7), "longitude": round(lon * 1e7),
            "altitude_barometric": alt_amsl, "altitude_geodetic": alt_amsl,
            "height_reference": 0, "height": -1000.0, "horizontal_accuracy": 10,
            "vertical_accuracy": 4, "barometer_accuracy": 3, "speed_accuracy": 3,
            "timestamp": now % 3600 if timestamp is None else timestamp,
            "timestamp_accuracy": 1}))
        for name, fields in messages:
            report = self.remote_id_traffic.offer(name, fields, drone_id, now)
            if report is not None:
                self.hub.publish_traffic(report)

    def camera(self, drone_id: int, *, hfov: float = 70.0, vfov: float = 43.0,
               pitch: float = DEFAULT_PITCH, yaw: float | None = None) -> None:
        """The drone has a gimbal camera of that field of view, pointing at `pitch` (degrees,
        negative down) and `yaw` (a bearing; None: along the heading)."""
        d = self.drones[drone_id]
        d.fov, d.pitch, d.yaw, d.roi = (hfov, vfov), pitch, yaw, None
        self._publish(d)

    def sent(self, drone_id: int) -> list[str]:
        return [c.name for c in self.drones[drone_id].sent]

    # -- flying ---------------------------------------------------------------------------------

    def reach(self, drone_id: int, seq: int) -> None:
        """The drone reached item `seq` (MISSION_ITEM_REACHED) and flies on to the next."""
        d = self.drones[drone_id]
        item = d.items[seq] if seq < len(d.items) else None
        pos = (GeoPoint(item.lat, item.lon, BASE.alt_amsl + item.alt)
               if item is not None and (item.lat or item.lon) else d.state.position)
        self.hub.publish_event(make_event(EventKind.MISSION_ITEM_REACHED, drone_id,
                                          f"Reached waypoint #{seq}", seq=seq))
        self.update(drone_id, position=pos, mission_current=min(seq + 1, len(d.items) - 1))

    def fly_to_end(self, drone_id: int) -> None:
        """Every item from the current one to the last, then land at home and disarm, the
        mission complete (ArduPilot then reports item 0 and MISSION_STATE_COMPLETE)."""
        d = self.drones[drone_id]
        for seq in range(max(1, d.state.mission_current or 1), len(d.items)):
            self.reach(drone_id, seq)
        self.update(drone_id, mission_state=MISSION_COMPLETE, mission_current=0)
        self.touch_down(drone_id)

    def touch_down(self, drone_id: int) -> None:
        """Landed (wherever it is) and disarmed."""
        self.update(drone_id, armed=False, landed_state="on_ground", alt_rel=0.0,
                    mode="LAND" if self.drones[drone_id].state.mode != "RTL" else "RTL")

    # -- the port -------------------------------------------------------------------------------

    async def locate(self, drone_id: int) -> vc.CommandPort:
        if drone_id not in self.drones:
            raise UnknownVehicle(f"no vehicle {drone_id}")
        return self

    async def read_mission(self, drone_id: int) -> list[MissionItem]:
        await self.locate(drone_id)
        return list(self.drones[drone_id].items)

    async def send(self, drone_id: int, command: vc.VehicleCommand) -> CommandResult:
        await self.locate(drone_id)
        d = self.drones[drone_id]
        d.sent.append(command)
        held = d.held.get(command.name)
        if held is not None:
            await held.wait()
        if d.state.link is not LinkState.UP:
            raise CommandTimeout(command.name, f"link is {d.state.link.value}")
        scripted = d.refusals.get(command.name)
        if scripted is not None:
            err, n = scripted
            if n <= 1:
                del d.refusals[command.name]
            else:
                d.refusals[command.name] = (err, n - 1)
            raise err
        return self._apply(d, command)

    def _apply(self, d: FakeDrone, c: vc.VehicleCommand) -> CommandResult:
        st, vid = d.state, d.state.vehicle_id
        match c:
            case vc.UploadMission(items=items):
                home = MissionItem(0, 0, 16, lat=st.home.lat if st.home else 0.0,
                                   lon=st.home.lon if st.home else 0.0)
                d.items = [home] + [dataclasses.replace(i, seq=n)
                                    for n, i in enumerate(items, 1)]
                self.update(vid, mission_total=len(items), mission_current=0,
                            mission_state=2)
                return CommandResult(c.name, {"items": len(items), "verified": True})
            case vc.UploadGeofence():
                d.fence = c
                return CommandResult(c.name, {"items": len(c.polygons) + len(c.circles),
                                              "verified": True})
            case vc.StartMission(takeoff_alt=alt):
                if not d.items[1:]:
                    raise CommandRejected(c.name, "no mission on the vehicle",
                                          statustext="Mission: no mission")
                self.update(vid, armed=True, landed_state="in_air", alt_rel=alt, mode="AUTO",
                            mission_current=1, mission_state=MISSION_ACTIVE)
                return CommandResult(c.name, {"takeoff_alt": alt})
            case vc.Pause(mode=mode):
                self.update(vid, mode=mode)
            case vc.Resume():
                self.update(vid, mode="AUTO")
            case vc.ReturnToLaunch():
                self.update(vid, mode="RTL")
            case vc.Land():
                self.update(vid, mode="LAND")
            case vc.SetMode(mode=mode):
                self.update(vid, mode=mode)
            case vc.SetMissionCurrent(seq=seq):
                self.update(vid, mission_current=seq)
            case vc.Goto(lat=lat, lon=lon, alt=alt):
                self.update(vid, mode="GUIDED",
                            position=GeoPoint(lat, lon, BASE.alt_amsl + alt))
            case vc.Arm():
                self.update(vid, armed=True)
            case vc.Disarm():
                self.update(vid, armed=False)
            case vc.Takeoff(alt=alt):
                self.update(vid, landed_state="in_air", alt_rel=alt)
            case vc.LookAt() | vc.PointGimbal() | vc.ClearRoi() if d.fov is None:
                raise CommandRejected(c.name, "refused by the vehicle", ack_result=3,
                                      ack_name="UNSUPPORTED")
            case vc.LookAt(lat=lat, lon=lon, alt=alt):
                d.roi = (lat, lon, alt)
                self._publish(d)
            case vc.PointGimbal(pitch_deg=pitch, yaw_deg=yaw):
                d.pitch, d.yaw, d.roi = pitch, yaw, None
                self._publish(d)
            case vc.ClearRoi():
                d.pitch, d.yaw, d.roi = DEFAULT_PITCH, None, None
                self._publish(d)
        return CommandResult(c.name, c.body())

    def _publish(self, d: FakeDrone) -> None:
        now = time.time()
        d.state = dataclasses.replace(d.state, updated_at=now, last_heartbeat=now,
                                      camera=self._gimbal(d, now))
        self.hub.publish(d.state)

    @staticmethod
    def _gimbal(d: FakeDrone, now: float) -> CameraState | None:
        """GIMBAL_DEVICE_ATTITUDE_STATUS as the decoder makes it: earth-frame angles."""
        if d.fov is None:
            return None
        st, pitch = d.state, d.pitch
        yaw = d.yaw if d.yaw is not None else (st.heading_deg or 0.0)
        if d.roi is not None and st.position is not None:  # aim at the point, as AP_Mount
            lat, lon, alt = d.roi
            north = (lat - st.position.lat) * M_PER_DEG_LAT
            east = (lon - st.position.lon) * m_per_deg_lon(st.position.lat)
            ground = st.home.alt_amsl if st.home is not None else BASE.alt_amsl
            below = st.position.alt_amsl - (ground + alt)
            yaw = math.degrees(math.atan2(east, north)) % 360.0
            pitch = -math.degrees(math.atan2(below, math.hypot(north, east)))
        return CameraState(hfov_deg=d.fov[0], vfov_deg=d.fov[1], gimbal_roll_deg=0.0,
                           gimbal_pitch_deg=pitch, gimbal_yaw_deg=yaw, gimbal_time=now)
