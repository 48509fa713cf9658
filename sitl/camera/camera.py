"""One copter's camera: its gimbal (vehicle time), its video thread (wall time) and settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sitl import geo
from sitl.camera import geometry
from sitl.camera.gimbal import Gimbal
from sitl.camera.render import Pose
from sitl.camera.stream import CameraStream
from sitl.mission_items import MISSION, NAV_LOITER_TIME, NAV_LOITER_TURNS, NAV_LOITER_UNLIM, Item

if TYPE_CHECKING:
    from sitl.vehicle import Vehicle


LOITER_COMMANDS = frozenset({NAV_LOITER_TIME, NAV_LOITER_TURNS, NAV_LOITER_UNLIM})


@dataclass(frozen=True)
class VideoConfig:
    """`--camera` settings; copter i streams to (host, base_port + i)."""

    host: str = "127.0.0.1"
    base_port: int = 5600
    width: int = 640
    height: int = 360
    fps: int = 15
    hfov: float = geometry.HFOV_DEG

    @property
    def vfov(self) -> float:
        return geometry.vfov_deg(self.width, self.height, self.hfov)


class SimCamera:
    def __init__(self, vehicle: Vehicle, cfg: VideoConfig, world_origin: tuple[float, float],
                 stream: bool = True) -> None:
        self.vehicle = vehicle
        self.cfg = cfg
        self.port = cfg.base_port + vehicle.instance
        self.world_origin = world_origin  # the fleet's home: one ground pattern for every copter
        self.gimbal = Gimbal(vehicle.yaw)
        self._last_time = vehicle.time
        self._stations_of: list[Item] | None = None
        self._station_ne: tuple[tuple[float, float], ...] = ()
        self.stream: CameraStream | None = None
        if stream:
            self.stream = CameraStream(self.pose(), cfg.width, cfg.height, cfg.fps,
                                       (cfg.host, self.port))

    def start(self) -> None:
        if self.stream is not None:
            self.stream.start()

    def stop(self) -> None:
        if self.stream is not None:
            self.stream.stop()

    def height_above_home(self) -> float:
        """Metres above the flat ground the camera sees (home altitude, as CAMERA_FOV_STATUS)."""
        return self.vehicle.alt_rel

    def pose(self) -> Pose:
        v = self.vehicle
        lat, lon = v.latlon
        n, e = geo.ne_between(self.world_origin[0], self.world_origin[1], lat, lon)
        return Pose(n, e, self.height_above_home(), self.gimbal.yaw, self.gimbal.pitch,
                    self._stations())

    def _stations(self) -> tuple[tuple[float, float], ...]:
        """The mission's loiter items as north/east metres (recomputed only when the stored
        mission changes: this runs at the physics rate)."""
        items = self.vehicle.missions[MISSION]
        if items is not self._stations_of:
            self._stations_of = items
            self._station_ne = tuple(
                geo.ne_between(self.world_origin[0], self.world_origin[1], i.lat, i.lon)
                for i in items[1:] if i.command in LOITER_COMMANDS and (i.x or i.y))
        return self._station_ne

    def tick(self) -> None:
        """After the vehicle stepped: move the gimbal and hand the video thread the new pose."""
        v = self.vehicle
        dt = v.time - self._last_time
        self._last_time = v.time
        if dt > 0:
            lat, lon = v.latlon
            self.gimbal.step(dt, lat, lon, v.alt, v.yaw)
        if self.stream is not None:
            self.stream.pose = self.pose()
