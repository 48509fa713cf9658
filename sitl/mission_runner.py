"""AUTO mode: runs the stored mission the way AP_Mission and Copter's ModeAuto do.

Texts and MISSION_ITEM_REACHED follow the real vehicle (shared/traces): each command announces
"Mission: N <Type>", waypoints and loiters end with "Reached command #N", takeoff ends silently, DO
commands run at once between two NAV commands, and an RTL or LAND item flies home and disarms
while the mode stays AUTO.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sitl import flight, geo
from sitl.mission_items import (
    ABSOLUTE_FRAMES,
    COMMAND_NAMES,
    DO_CHANGE_SPEED,
    DO_JUMP,
    DO_SET_HOME,
    NAV_COMMANDS,
    NAV_DELAY,
    NAV_LAND,
    NAV_LOITER_TIME,
    NAV_LOITER_TURNS,
    NAV_RETURN_TO_LAUNCH,
    NAV_TAKEOFF,
    NAV_WAYPOINT,
    Item,
)
from sitl.vehicle_consts import CRITICAL, INFO, TAKEOFF_SPOOL_S, WARNING

if TYPE_CHECKING:
    from sitl.vehicle import Vehicle

# MISSION_STATE
NO_MISSION, NOT_STARTED, ACTIVE, PAUSED, COMPLETE = 1, 2, 3, 4, 5
# A waypoint without a delay is flown through, not stopped at, when the next NAV command is one of
# these (ModeAuto::wp_start: AC_WPNav's next destination); otherwise the copter stops there.
FLY_THROUGH_NEXT = frozenset({NAV_WAYPOINT, NAV_LOITER_TIME})
# Below this ground speed a copter that stops at an item counts as there (the patrol trace: a
# loiter's time starts once the copter has stopped over the point, ~0.5 s after it got there).
STOPPED_MPS = 0.5


def corner_speed(speed: float, turn_rad: float) -> float:
    """Speed through a waypoint where the track turns by `turn_rad`: full speed straight on,
    a stop for a U-turn. The patrol trace's 60 degree corners are flown at 4.5 m/s at
    WPNAV_SPEED 10 m/s; (1 - turn/pi)^2 gives 4.4 (ArduCopter blends the two S-curves; this is
    a fit to that one recorded angle, not its algorithm)."""
    return speed * (1.0 - min(abs(turn_rad), math.pi) / math.pi) ** 2


class MissionRunner:
    def __init__(self, vehicle: Vehicle) -> None:
        self.v = vehicle
        self.items: list[Item] = []
        self.current = 0
        self.state = NO_MISSION
        self.nav: Item | None = None
        self.nav_target: tuple[float, float, float] | None = None
        self.arrived_at: float | None = None
        self.orbit_angle = 0.0
        self.orbit_done = 0.0
        self.jumps_done: dict[int, int] = {}
        self.landing = False

    # ---- state the MAVLink side reports ---------------------------------------------------------
    @property
    def total(self) -> int:
        """MISSION_CURRENT.total: ArduPilot leaves out the home slot (mavlink PR #1976)."""
        return max(0, len(self.items) - 1)

    def mission_changed(self, items: list[Item]) -> None:
        self.items = items
        self.jumps_done.clear()
        if len(items) <= 1:
            self.current, self.state, self.nav = 0, NO_MISSION, None
        else:
            # Like the real vehicle (pymavlink trace): MISSION_CURRENT stays at 0 after an upload
            # until the mission starts.
            if self.current >= len(items) or self.state not in (ACTIVE, PAUSED):
                self.current = 0
            if self.state in (NO_MISSION, COMPLETE):
                self.state = NOT_STARTED

    def running_seq(self) -> int | None:
        """AP_Mission's current nav index: none until the mission runs, none again once done."""
        return self.current if self.state in (ACTIVE, PAUSED) else None

    def can_enter(self, armed_on_ground: bool) -> bool:
        """ModeAuto::init: armed needs a mission; armed on the ground needs a takeoff first."""
        if not self.v.armed:
            return True
        if len(self.items) <= 1:
            self.v.say(WARNING, "Mode change to AUTO failed: initialisation failed")
            return False
        if armed_on_ground and not self._starts_with_takeoff():
            self.v.say(CRITICAL, "Auto: Missing Takeoff Cmd")
            self.v.say(WARNING, "Mode change to AUTO failed: initialisation failed")
            return False
        return True

    def _starts_with_takeoff(self) -> bool:
        for item in self.items[1:]:
            if item.command in NAV_COMMANDS:
                return item.command == NAV_TAKEOFF
        return False

    # ---- control --------------------------------------------------------------------------------
    def start_or_resume(self) -> None:
        if len(self.items) <= 1 or self.state == ACTIVE:
            return
        if self.state == COMPLETE or self.v.params["MIS_RESTART"] == 1 or self.current == 0:
            self.current = 1
            self.jumps_done.clear()
        self.state = ACTIVE
        self._start(self.current)

    def pause(self) -> None:
        if self.state == ACTIVE:
            self.state = PAUSED
        self.nav = None
        self.landing = False

    def set_current(self, seq: int) -> bool:
        if not 0 < seq < len(self.items):
            return False
        self.current = seq
        if self.state == ACTIVE:
            self._start(seq)
        elif self.state == COMPLETE:
            self.state = NOT_STARTED
        return True

    def landed_and_disarming(self) -> None:
        if self.nav is not None:
            self.v.reached(self.nav.seq)
        self._complete()

    # ---- execution ------------------------------------------------------------------------------
    def _start(self, seq: int) -> None:
        """Start command `seq`, running DO commands at once until the next NAV command."""
        self.nav = None
        self.landing = False
        hops = 0
        while seq < len(self.items):
            item = self.items[seq]
            if item.command == DO_JUMP:
                hops += 1
                target, repeat = int(item.param1), int(item.param2)
                done = self.jumps_done.get(seq, 0)
                if hops < 64 and 0 < target < len(self.items) and (repeat < 0 or done < repeat):
                    self.jumps_done[seq] = done + 1
                    seq = target
                else:
                    seq += 1
                continue
            self.current = seq
            name = COMMAND_NAMES.get(item.command, str(item.command))
            self.v.say(INFO, f"Mission: {seq} {name}")
            if item.command in NAV_COMMANDS:
                self._start_nav(item)
                return
            self._do(item)
            self.v.reached(seq)
            seq += 1
        self._complete()

    def _complete(self) -> None:
        self.nav = None
        self.landing = False
        self.state = COMPLETE
        self.current = 0  # the trace's last MISSION_CURRENT: (seq 0, state COMPLETE)

    def _do(self, item: Item) -> None:
        v = self.v
        if item.command == DO_CHANGE_SPEED and item.param2 > 0:
            v.speed_override = item.param2
        elif item.command == DO_SET_HOME:
            if item.param1 == 1 or (item.x == 0 and item.y == 0):
                lat, lon = v.latlon
                v.set_home(lat, lon, v.alt)
            else:
                v.set_home(item.lat, item.lon, self._alt_amsl(item))

    def _alt_amsl(self, item: Item) -> float:
        if item.frame in ABSOLUTE_FRAMES:
            return item.z
        home = self.v.home or (self.v.origin_lat, self.v.origin_lon, self.v.ground_amsl)
        return home[2] + item.z

    def _location(self, item: Item) -> tuple[float, float, float]:
        v = self.v
        if item.x == 0 and item.y == 0:
            n, e = v.north, v.east
        else:
            n, e = geo.ne_between(v.origin_lat, v.origin_lon, item.lat, item.lon)
        alt = v.alt if item.z == 0 and item.command != NAV_WAYPOINT else self._alt_amsl(item)
        return n, e, alt

    def _start_nav(self, item: Item) -> None:
        v = self.v
        self.nav = item
        self.arrived_at = None
        self.orbit_done = 0.0
        v.exit_speed = 0.0
        if item.command == NAV_TAKEOFF:
            home_alt = v.home[2] if v.home else v.ground_amsl
            alt = item.z if item.frame in ABSOLUTE_FRAMES else home_alt + item.z
            self.nav_target = (v.north, v.east, max(alt, v.alt if not v.landed else alt))
            if v.landed:
                v.landed = False
                v.land_vertical = None
                v.touchdown_at = None
                v.spool_until = v.time + TAKEOFF_SPOOL_S
        elif item.command == NAV_RETURN_TO_LAUNCH:
            self.landing = True
            flight.start_rtl(v)
        elif item.command == NAV_LAND:
            self.landing = True
            n, e, _ = self._location(item)
            v.land_target = (n, e)
        elif item.command == NAV_DELAY:
            self.nav_target = (v.north, v.east, v.alt)
            self.arrived_at = v.time
        else:
            self.nav_target = self._location(item)
            if item.command == NAV_WAYPOINT and item.z == 0 and item.frame not in ABSOLUTE_FRAMES:
                self.nav_target = (self.nav_target[0], self.nav_target[1], v.alt)
            if item.command == NAV_WAYPOINT and item.param1 <= 0:
                v.exit_speed = self._through_speed(item)

    def _through_speed(self, item: Item) -> float:
        """Speed at which the copter flies through waypoint `item` (0: it stops there)."""
        v = self.v
        nxt = next((it for it in self.items[item.seq + 1:] if it.command in NAV_COMMANDS
                    or it.command == DO_JUMP), None)
        if nxt is None or nxt.command not in FLY_THROUGH_NEXT or self.nav_target is None:
            return 0.0
        tn, te, _ = self.nav_target
        nn, ne, _ = self._location(nxt)
        a_in = math.atan2(te - v.east, tn - v.north)
        a_out = math.atan2(ne - te, nn - tn)
        if math.hypot(tn - v.north, te - v.east) < 1.0 or math.hypot(nn - tn, ne - te) < 1.0:
            return 0.0
        turn = (a_out - a_in + math.pi) % (2 * math.pi) - math.pi
        return corner_speed(flight.max_speed(v), turn)

    def update(self, dt: float) -> None:
        """Called every tick in AUTO while armed; sets the vehicle's target."""
        v = self.v
        item = self.nav
        if self.state != ACTIVE or item is None:
            if v.target is None and not v.landed:
                v.target = (v.north, v.east, v.alt)
            return
        cmd = item.command
        if cmd == NAV_RETURN_TO_LAUNCH:
            flight.rtl_update(v)
            return
        if cmd == NAV_LAND:
            flight.land_update(v)
            return
        if v.landed:
            return
        assert self.nav_target is not None
        tn, te, talt = self.nav_target
        if cmd == NAV_TAKEOFF:
            v.target = self.nav_target
            if v.alt >= talt - 0.3:
                self._finish(item, announce=False)
            return
        if cmd == NAV_LOITER_TURNS and self.arrived_at is not None:
            self._orbit(item, dt)
            return
        v.target = self.nav_target
        dist = math.hypot(tn - v.north, te - v.east)
        radius = max(v.params["WPNAV_RADIUS"] / 100.0, 0.5)
        stopped = v.exit_speed > 0 or v.ground_speed < STOPPED_MPS
        if self.arrived_at is None and dist <= radius and abs(talt - v.alt) < 1.0 and stopped:
            self.arrived_at = v.time
        if self.arrived_at is None:
            return
        held = v.time - self.arrived_at
        if cmd in (NAV_WAYPOINT, NAV_LOITER_TIME, NAV_DELAY) and held >= max(0.0, item.param1):
            self._finish(item, announce=cmd != NAV_DELAY)
        elif cmd == NAV_LOITER_TURNS:
            self.orbit_angle = 0.0

    def _orbit(self, item: Item, dt: float) -> None:
        v = self.v
        assert self.nav_target is not None
        cn, ce, alt = self.nav_target
        radius = abs(item.param3) or v.params["CIRCLE_RADIUS"] / 100.0
        direction = -1.0 if item.param3 < 0 else 1.0
        rate = min(math.radians(v.params["CIRCLE_RATE"]), flight.max_speed(v) / radius)
        self.orbit_angle += rate * dt * direction
        self.orbit_done += rate * dt
        v.target = (cn + radius * math.cos(self.orbit_angle),
                    ce + radius * math.sin(self.orbit_angle), alt)
        if self.orbit_done >= 2 * math.pi * max(item.param1, 0.0):
            self._finish(item, announce=True)

    def _finish(self, item: Item, announce: bool) -> None:
        if announce:
            self.v.say(INFO, f"Reached command #{item.seq}")
        self.v.reached(item.seq)
        self._start(item.seq + 1)
