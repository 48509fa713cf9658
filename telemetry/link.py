"""The fleet link: every vehicle on ONE `mavsdk.asyncio.Mavsdk` instance.

Responsibilities: add/remove vehicles by connection URL, refuse a second vehicle with a system id
already in use (MAVSDK would merge them), attach MAVSDK plugins when a vehicle's System appears,
request the telemetry streams ArduPilot needs to be asked for, discover vehicles on shared
listening ports, declare link loss after `heartbeat_timeout_s` without a heartbeat and re-request
streams (and, for a long outage, re-open the connection) when it comes back. Decoded state goes to
the `TelemetryHub`; commands go through `telemetry.commands` on the `Vehicle` objects kept here.

The link does not know about databases or HTTP: the service gives it vehicle ids, and (for
discovery) a callback that decides the id of a newly seen vehicle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from mavsdk import LogLevel, log_subscribe
from mavsdk.asyncio import Configuration, ForwardingOption, Mavsdk, MavsdkConnectionError

from telemetry.errors import (
    DuplicateSysid,
    DuplicateUrl,
    FleetError,
    UnknownVehicle,
    VehicleUnreachable,
)
from telemetry.hub import TelemetryHub
from telemetry.ingest import Batches, Ingest
from telemetry.probe import ProbeError, probe_sysid
from telemetry.remote_id import (
    DEFAULT_CONSOLE_STALE_S,
    OperatorInfo,
    OperatorSource,
    operator_id_fields,
    system_fields,
)
from telemetry.remote_id_traffic import RID_MESSAGES, RemoteIdTraffic
from telemetry.state import LinkState, VehicleState
from telemetry.traffic import from_adsb_vehicle
from telemetry.urls import ConnectionUrl, InvalidUrl, parse_url
from telemetry.vehicle import StreamRates, Vehicle

log = logging.getLogger(__name__)
mavsdk_log = logging.getLogger("mavsdk")

# Discovery callback: (sysid, url) -> (vehicle_id, name) to register it, or None to ignore it.
DiscoveryHandler = Callable[[int, str], Awaitable[tuple[int, str] | None]]


@dataclass(frozen=True)
class LinkConfig:
    """Tunables of the fleet link (the service fills these from its settings)."""

    heartbeat_timeout_s: float = 3.0
    reconnect_after_s: float = 15.0
    probe_timeout_s: float = 5.0
    executor_threads: int = 32
    low_battery_pct: float = 25.0
    gcs_sysid: int = 245
    gcs_compid: int = 190
    rates: StreamRates = field(default_factory=StreamRates)
    discovery_urls: tuple[str, ...] = ()
    watchdog_period_s: float = 0.25
    # Remote ID: with an operator location, OPEN_DRONE_ID_SYSTEM and _OPERATOR_ID at 1 Hz
    remote_id: OperatorInfo | None = None
    # without a fixed one, a console's position (OperatorSource) while younger than this
    remote_id_operator_id: str = ""
    remote_id_console_stale_s: float = DEFAULT_CONSOLE_STALE_S


@dataclass
class _Connection:
    url: ConnectionUrl
    handle: Any
    shared: bool
    users: set[int] = field(default_factory=set)


class FleetLink:
    """Owns the Mavsdk instance, the executor, the vehicles and the link's background tasks."""

    def __init__(self, hub: TelemetryHub, config: LinkConfig | None = None) -> None:
        self.hub = hub
        self.config = config or LinkConfig()
        self._mavsdk: Mavsdk | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._ingest: Ingest | None = None
        self._vehicles: dict[int, Vehicle] = {}
        self._by_sysid: dict[int, Vehicle] = {}
        self._connections: dict[str, _Connection] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._add_lock = asyncio.Lock()
        self._scan_lock = asyncio.Lock()
        self._scan_wanted = asyncio.Event()
        self._unclaimed_warned: set[int] = set()
        self._discovering: set[int] = set()
        self._reconnect_at: dict[int, tuple[float, float]] = {}
        self.on_discovered: DiscoveryHandler | None = None
        self.started = False
        self.remote_id_traffic = RemoteIdTraffic()
        self.operator = OperatorSource(self.config.remote_id, self.config.remote_id_operator_id,
                                       self.config.remote_id_console_stale_s)

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the Mavsdk instance and start the watchdog, scanner and discovery ports."""
        if self.started:
            return
        _route_mavsdk_logs()
        cfg = self.config
        self._executor = ThreadPoolExecutor(
            max_workers=cfg.executor_threads, thread_name_prefix="fleet-link"
        )
        self._mavsdk = Mavsdk(Configuration.create_manual(cfg.gcs_sysid, cfg.gcs_compid, True))
        self._ingest = Ingest(asyncio.get_running_loop(), self._on_batches)
        self.started = True
        self._spawn(self._watchdog(), "link-watchdog")
        self._spawn(self._remote_id(), "link-remote-id")
        self._spawn(self._scanner(), "link-scanner")
        self._spawn(self._new_system_listener(), "link-new-systems")
        for raw in cfg.discovery_urls:
            try:
                await self._open(parse_url(raw), shared=True, user=None)
            except (InvalidUrl, FleetError) as e:
                log.error("discovery URL %s not opened: %s", raw, e)

    async def stop(self) -> None:
        """Stop tasks, release plugins and connections, then destroy the Mavsdk instance."""
        if not self.started:
            return
        self.started = False
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(3.0):
                await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._ingest is not None:
            self._ingest.close()
        for vehicle in self._vehicles.values():
            vehicle.detach()
        if self._executor is not None:
            # Blocking MAVSDK requests end on their own (bounded by MAVSDK's retries); wait for
            # them briefly so no worker is inside the library when it is destroyed.
            executor = self._executor
            if not await in_daemon_thread(
                lambda: executor.shutdown(True, cancel_futures=True), 5.0, "link-executor-stop"
            ):
                log.warning("MAVSDK requests still running after 5 s; stopping without them")
        mavsdk, self._mavsdk = self._mavsdk, None
        self._connections.clear()
        # destroy() joins MAVSDK's threads; with a request still retrying towards a silent
        # vehicle it can block for seconds. Shutdown must stay bounded: give it a few seconds,
        # then let the process exit without it.
        if mavsdk is not None and not await in_daemon_thread(mavsdk.destroy, 3.0,
                                                             "mavsdk-destroy"):
            log.warning("MAVSDK did not shut down within 3 s; exiting without waiting")

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("link task %s failed", task.get_name(), exc_info=task.exception())

    # -- registry -------------------------------------------------------------------------------

    def get(self, vehicle_id: int) -> Vehicle:
        try:
            return self._vehicles[vehicle_id]
        except KeyError:
            raise UnknownVehicle(f"no vehicle {vehicle_id} on the link") from None

    def vehicles(self) -> list[Vehicle]:
        return list(self._vehicles.values())

    def by_sysid(self, sysid: int) -> Vehicle | None:
        return self._by_sysid.get(sysid)

    async def add_vehicle(
        self,
        vehicle_id: int,
        url: str,
        *,
        sysid: int | None = None,
        name: str = "",
        probe: bool = True,
    ) -> VehicleState:
        """Register a vehicle reachable at `url` and connect to it.

        The system id is learned by probing the URL when not given (tcpout/udpin/udpout), and
        checked against the given one when `probe` is set and the vehicle answers. Raises
        DuplicateUrl / DuplicateSysid / VehicleUnreachable / FleetError(field=...) before
        anything reaches MAVSDK, so a refused vehicle never merges into an existing one.
        """
        if not self.started:
            raise FleetError("the fleet link is not running")
        try:
            cu = parse_url(url)
        except InvalidUrl as e:
            raise FleetError(str(e), field="url") from None
        async with self._add_lock:
            if vehicle_id in self._vehicles:
                raise FleetError(f"vehicle {vehicle_id} is already on the link", field="id")
            conn = self._connections.get(cu.url)
            if conn is not None and not conn.shared:
                other = self._vehicles.get(next(iter(conn.users), -1))
                who = f"vehicle {other.vehicle_id}" if other else "another vehicle"
                raise DuplicateUrl(f"{cu.url} is already used by {who}", field="url")
            shared = conn is not None and conn.shared
            if probe and not shared and cu.scheme in ("tcpout", "udpin", "udpout"):
                try:
                    found = await probe_sysid(
                        cu, self.config.probe_timeout_s,
                        gcs_sysid=self.config.gcs_sysid, gcs_compid=self.config.gcs_compid,
                    )
                except ProbeError as e:
                    if sysid is None:
                        raise VehicleUnreachable(
                            f"{e}; give 'sysid' to register a vehicle that is offline",
                            field="url",
                        ) from None
                else:
                    if sysid is not None and found != sysid:
                        raise FleetError(
                            f"the vehicle at {cu.url} reports system id {found}, not {sysid}",
                            field="sysid",
                        )
                    sysid = found
            if sysid is None:
                raise FleetError(
                    f"cannot learn the system id of a {cu.scheme} connection; give 'sysid'",
                    field="sysid",
                )
            if not 1 <= sysid <= 255:
                raise FleetError("system id must be 1..255", field="sysid")
            if sysid == self.config.gcs_sysid:
                raise FleetError(f"system id {sysid} is the ground station's own", field="sysid")
            self._check_sysid_free(sysid, cu)
            vehicle = self._register(vehicle_id, sysid, cu, name, shared=shared)
            try:
                await self._open(cu, shared=shared, user=vehicle_id)
            except FleetError:
                self._unregister(vehicle)
                raise
        self._scan_wanted.set()
        return vehicle.state

    def _check_sysid_free(self, sysid: int, cu: ConnectionUrl) -> None:
        other = self._by_sysid.get(sysid)
        if other is not None:
            label = f"'{other.state.name}'" if other.state.name else f"{other.vehicle_id}"
            raise DuplicateSysid(
                f"system id {sysid} is already used by vehicle {label} ({other.url.url}); "
                f"MAVSDK would merge the two into one. Give every drone a unique SYSID_THISMAV",
                field="sysid",
            )

    def _register(
        self, vehicle_id: int, sysid: int, cu: ConnectionUrl, name: str, *, shared: bool
    ) -> Vehicle:
        assert self._executor is not None
        vehicle = Vehicle(
            vehicle_id, sysid, cu, name=name, executor=self._executor,
            low_battery_pct=self.config.low_battery_pct, gcs_sysid=self.config.gcs_sysid,
            gcs_compid=self.config.gcs_compid, shared_connection=shared,
        )
        self._vehicles[vehicle_id] = vehicle
        self._by_sysid[sysid] = vehicle
        self._unclaimed_warned.discard(sysid)
        self.hub.publish(vehicle.state)
        return vehicle

    def _unregister(self, vehicle: Vehicle) -> None:
        self._vehicles.pop(vehicle.vehicle_id, None)
        if self._by_sysid.get(vehicle.sysid) is vehicle:
            del self._by_sysid[vehicle.sysid]
        vehicle.detach()
        self.hub.remove_vehicle(vehicle.vehicle_id)

    async def remove_vehicle(self, vehicle_id: int) -> None:
        """Disconnect and forget a vehicle (its connection closes unless shared)."""
        vehicle = self.get(vehicle_id)
        self._unregister(vehicle)
        self._reconnect_at.pop(vehicle_id, None)
        await self._close(vehicle.url, vehicle_id)

    def rename(self, vehicle_id: int, name: str) -> None:
        self.hub.publish(self.get(vehicle_id).decoder.rename(name))

    # -- connections ----------------------------------------------------------------------------

    async def _open(self, cu: ConnectionUrl, *, shared: bool, user: int | None) -> None:
        conn = self._connections.get(cu.url)
        if conn is None:
            assert self._mavsdk is not None
            try:
                handle = await self._mavsdk.add_any_connection(cu.url, ForwardingOption.OFF)
            except MavsdkConnectionError as e:
                raise FleetError(
                    f"{cu.url}: MAVSDK refused the connection: {e}", field="url"
                ) from None
            conn = _Connection(cu, handle, shared)
            self._connections[cu.url] = conn
        if user is not None:
            conn.users.add(user)

    async def _close(self, cu: ConnectionUrl, user: int) -> None:
        conn = self._connections.get(cu.url)
        if conn is None:
            return
        conn.users.discard(user)
        if conn.users or conn.shared:
            return
        del self._connections[cu.url]
        if self._mavsdk is not None:
            await self._mavsdk.remove_connection(conn.handle)

    async def _reopen(self, vehicle: Vehicle) -> None:
        """Close and re-add a vehicle's own connection after a long outage (e.g. a serial
        adapter that was unplugged). MAVSDK retries tcpout by itself; this covers the rest."""
        conn = self._connections.get(vehicle.url.url)
        if conn is None or conn.shared or self._mavsdk is None:
            return
        log.info("vehicle %s: re-opening %s after link loss", vehicle.vehicle_id, conn.url.url)
        del self._connections[conn.url.url]
        await self._mavsdk.remove_connection(conn.handle)
        try:
            await self._open(conn.url, shared=False, user=vehicle.vehicle_id)
        except FleetError as e:
            log.warning("vehicle %s: re-open failed: %s", vehicle.vehicle_id, e)

    # -- systems: attach and discovery ----------------------------------------------------------

    async def _new_system_listener(self) -> None:
        assert self._mavsdk is not None
        async for _ in self._mavsdk.on_new_system():
            self._scan_wanted.set()

    async def _scanner(self) -> None:
        """Attach plugins to registered vehicles whose System appeared; hand others to discovery.

        Runs on MAVSDK's new-system notifications and, while some vehicle is still unattached,
        every second (a System can exist before its first HEARTBEAT says it is an autopilot).
        """
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._scan_wanted.wait()
            self._scan_wanted.clear()
            if self._scan_needed():
                try:
                    await self.scan()
                except Exception:
                    log.exception("system scan failed")

    def _scan_needed(self) -> bool:
        return any(not v.attached for v in self._vehicles.values()) or bool(
            self.config.discovery_urls
        )

    async def scan(self) -> None:
        if self._mavsdk is None:
            return
        async with self._scan_lock:
            for system in await self._mavsdk.get_systems():
                sysid = await system.get_system_id()
                vehicle = self._by_sysid.get(sysid)
                if vehicle is not None:
                    if not vehicle.attached:
                        assert self._ingest is not None
                        vehicle.attach(system._system, self._ingest.offer)
                        log.info("vehicle %s attached (sysid %s)", vehicle.vehicle_id, sysid)
                    continue
                if sysid == self.config.gcs_sysid or not await system.has_autopilot():
                    continue
                self._handle_unclaimed(sysid)

    def _handle_unclaimed(self, sysid: int) -> None:
        if self.on_discovered is None or not self.config.discovery_urls:
            if sysid not in self._unclaimed_warned:
                self._unclaimed_warned.add(sysid)
                log.warning("system %s is heard but no registered vehicle has that id", sysid)
            return
        if sysid not in self._discovering:
            self._discovering.add(sysid)
            self._spawn(self._discover(sysid), f"discover-{sysid}")

    async def _discover(self, sysid: int) -> None:
        """Ask the service for an id for a newly heard vehicle, then register it (shared port)."""
        try:
            url = self.config.discovery_urls[0]
            cu = parse_url(url)
            assert self.on_discovered is not None
            decision = await self.on_discovered(sysid, cu.url)
            if decision is None:
                return
            vehicle_id, name = decision
            async with self._add_lock:
                if sysid in self._by_sysid or vehicle_id in self._vehicles:
                    return
                self._register(vehicle_id, sysid, cu, name, shared=True)
                self._connections[cu.url].users.add(vehicle_id)
            self._scan_wanted.set()
        finally:
            self._discovering.discard(sysid)

    # -- telemetry flow -------------------------------------------------------------------------

    def _on_batches(self, batches: Batches, now: float, mono: float) -> None:
        """Runs on the loop for each ingest batch: decode, publish, react to link changes."""
        hub = self.hub
        for vehicle, batch in batches.items():
            if self._vehicles.get(vehicle.vehicle_id) is not vehicle:
                continue  # removed while its messages were queued
            before = vehicle.state.link
            for name, fields in batch:
                if name == "ADSB_VEHICLE":
                    report = from_adsb_vehicle(fields, vehicle.vehicle_id, now)
                    if report is not None:
                        hub.publish_traffic(report)
                elif name in RID_MESSAGES:
                    report = self.remote_id_traffic.offer(name, fields, vehicle.vehicle_id, now)
                    if report is not None:
                        hub.publish_traffic(report)
            state, events = vehicle.decoder.apply(batch, now, mono)
            if state is not None:
                hub.publish(state)
            for ev in events:
                hub.publish_event(ev)
            if before is not LinkState.UP and vehicle.state.link is LinkState.UP:
                vehicle.lost_since = None
                self._reconnect_at.pop(vehicle.vehicle_id, None)
                self._spawn(self._on_link_up(vehicle), f"streams-{vehicle.vehicle_id}")

    async def _on_link_up(self, vehicle: Vehicle) -> None:
        """(Re)request streams: a rebooted autopilot forgets SET_MESSAGE_INTERVAL settings."""
        await vehicle.request_streams(self.config.rates)

    async def _remote_id(self) -> None:
        """The operator's location and ID to every linked drone, once a second while there is
        one (telemetry/remote_id.py). A send that fails is logged once per drone; the next
        second retries."""
        failed: set[int] = set()
        while True:
            await asyncio.sleep(1.0)
            op = self.operator.current(time.time())
            if op is None:
                continue
            for vehicle in list(self._vehicles.values()):
                if vehicle.state.link is not LinkState.UP or not vehicle.attached:
                    continue
                try:
                    await vehicle.send_message("OPEN_DRONE_ID_SYSTEM",
                                               system_fields(op, vehicle.sysid))
                    if op.operator_id:
                        await vehicle.send_message("OPEN_DRONE_ID_OPERATOR_ID",
                                                   operator_id_fields(op, vehicle.sysid))
                    failed.discard(vehicle.vehicle_id)
                except Exception as e:  # noqa: BLE001 - one drone's failure stops no other
                    if vehicle.vehicle_id not in failed:
                        failed.add(vehicle.vehicle_id)
                        log.warning("Remote ID to vehicle %s not sent: %s", vehicle.vehicle_id,
                                    e)

    async def _watchdog(self) -> None:
        cfg = self.config
        while True:
            await asyncio.sleep(cfg.watchdog_period_s)
            now, mono = time.time(), time.monotonic()
            for vehicle in list(self._vehicles.values()):
                state, events = vehicle.decoder.check_link(cfg.heartbeat_timeout_s, now, mono)
                if state is not None:
                    vehicle.lost_since = mono
                    self.hub.publish(state)
                for ev in events:
                    self.hub.publish_event(ev)
                self._maybe_reopen(vehicle, mono)

    def _maybe_reopen(self, vehicle: Vehicle, mono: float) -> None:
        if vehicle.lost_since is None or vehicle.shared_connection:
            return
        first = self.config.reconnect_after_s
        default = (vehicle.lost_since + first, first)
        due, backoff = self._reconnect_at.get(vehicle.vehicle_id, default)
        if mono < due:
            self._reconnect_at[vehicle.vehicle_id] = (due, backoff)
            return
        nxt = min(backoff * 2, 120.0)
        self._reconnect_at[vehicle.vehicle_id] = (mono + nxt, nxt)
        self._spawn(self._reopen(vehicle), f"reopen-{vehicle.vehicle_id}")

    # -- stats ----------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters since `start()` (monotonic while the link runs; they restart at zero with a
        new link): MAVLink messages received in total and per vehicle id (removed vehicles
        keep their count), ingest batches, event messages dropped. Read on the event loop;
        cheap enough to call at every metrics scrape."""
        ing = self._ingest
        return {
            "vehicles": len(self._vehicles),
            "connections": len(self._connections),
            "messages_received": ing.received if ing else 0,
            "messages_by_vehicle": ing.received_per_vehicle() if ing else {},
            "ingest_batches": ing.batches if ing else 0,
            "ingest_dropped_events": ing.dropped_events if ing else 0,
        }


_LOGS_ROUTED = False


def _route_mavsdk_logs() -> None:
    """Send MAVSDK's C++ log lines to Python logging instead of stdout (once per process).

    MAVSDK's ERROR lines during an outage ("Sending message failed", every retry) are expected
    noise, so they are logged one level lower; debug lines are dropped on MAVSDK's thread.
    """
    global _LOGS_ROUTED
    if _LOGS_ROUTED:
        return
    _LOGS_ROUTED = True
    levels = {
        LogLevel.INFO: logging.DEBUG, LogLevel.WARN: logging.INFO, LogLevel.ERROR: logging.WARNING,
    }

    def on_log(level: LogLevel, message: str, _file: str | None, _line: int) -> bool:
        py_level = levels.get(level)
        if py_level is not None and mavsdk_log.isEnabledFor(py_level):
            mavsdk_log.log(py_level, "%s", message)
        return True

    log_subscribe(on_log)


async def in_daemon_thread(fn: Callable[[], object], timeout_s: float, name: str) -> bool:
    """Run a blocking `fn` in a daemon thread and wait for it at most `timeout_s`; True if it
    finished. Not `asyncio.to_thread`: asyncio.run joins the default executor's threads when the
    loop ends, so a call stuck in MAVSDK there would hang the process's exit after all."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def finished() -> None:
        if not done.done():
            done.set_result(None)

    def run() -> None:
        try:
            fn()
        except Exception:
            log.exception("%s failed", name)
        finally:
            with contextlib.suppress(RuntimeError):  # the loop may be closed by now
                loop.call_soon_threadsafe(finished)

    threading.Thread(target=run, name=name, daemon=True).start()
    try:
        async with asyncio.timeout(timeout_s):
            await asyncio.shield(done)
    except TimeoutError:
        return False
    return True
