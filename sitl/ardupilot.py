"""The real-SITL lane: run N ArduPilot ``arducopter`` SITL processes as one fleet.

``python -m sitl --engine ardupilot`` calls :func:`run_ardupilot`, which prints the same
``sitl: vehicle I sysid S tcp:127.0.0.1:PORT`` / ``sitl: ready`` lines as the simulator, so tests
and the service treat both engines alike. Nothing here builds or ships ArduPilot: point
``ARDUPILOT_SITL_BINARY`` at an ``arducopter`` built elsewhere, or put one on ``PATH``.

How an instance is started (flags as parsed by ArduPilot's
``libraries/AP_HAL_SITL/SITL_cmdline.cpp``)::

    arducopter --model quad --speedup X --defaults BASE.parm,ID.parm --home LAT,LON,ALT,HDG \\
               -I K --base-port P+10*i --sysid S+i [--serial1 udpclient:HOST:PORT+10*i]

- ``-I K`` moves every per-instance port by 10*K; ``--base-port`` given *after* it then pins
  SERIAL0 to TCP P+10*i exactly (SERIAL1/SERIAL2 are base+2/base+3). K is chosen so that
  concurrent fleets also get distinct UDP side ports (RC in 5501+10*K, simulator 9002/9003+10*K).
- SERIAL0 is ``tcp:0:wait``: the vehicle does not start booting until a client connects.
- ``--sysid`` sets the system id on binaries that have the flag; the per-instance defaults file
  sets it too (``SYSID_THISMAV``, renamed ``MAV_SYSID`` in 2025; the unknown name is ignored).
- Every instance runs in its own temporary working directory (eeprom.bin, logs/, the .parm
  files, ``arducopter.log`` with its console output), removed when the fleet stops.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import FrameType
from typing import IO, Any

import psutil

ENV_BINARY = "ARDUPILOT_SITL_BINARY"
DEFAULT_HOME = "41.311081,69.240562,455,0"
SITL_BASE_PORT = 5760  # SERIAL0 of instance 0 when no --base-port is given
MODEL = "quad"
_METRES_PER_DEG_LAT = 111_319.49079327357
_HIGHEST_SIDE_PORT_OFFSET = 9005  # irlock port 9005+10*I is the highest per-instance port

# The least a bare arducopter needs to arm and fly with the stock SITL physics: frame, battery
# monitor (battery state and failsafe), RC ranges matching SITL's simulated sticks, and non-default
# accelerometer/compass calibration values so the calibration pre-arm checks pass. Pass your own
# file (e.g. ArduPilot's Tools/autotest/default_params/copter.parm) with ``defaults`` to replace it.
BASE_DEFAULTS = """\
# written by nazorat sitl/ardupilot.py: minimal ArduCopter SITL defaults
FRAME_CLASS 1
FRAME_TYPE 0
BATT_MONITOR 4
FS_THR_ENABLE 1
RC1_MIN 1000
RC1_MAX 2000
RC1_TRIM 1500
RC2_MIN 1000
RC2_MAX 2000
RC2_TRIM 1500
RC3_MIN 1000
RC3_MAX 2000
RC3_TRIM 1500
RC4_MIN 1000
RC4_MAX 2000
RC4_TRIM 1500
INS_ACCOFFS_X 0.001
INS_ACCOFFS_Y 0.001
INS_ACCOFFS_Z 0.001
INS_ACCSCAL_X 1.001
INS_ACCSCAL_Y 1.001
INS_ACCSCAL_Z 1.001
INS_ACC2OFFS_X 0.001
INS_ACC2OFFS_Y 0.001
INS_ACC2OFFS_Z 0.001
INS_ACC2SCAL_X 1.001
INS_ACC2SCAL_Y 1.001
INS_ACC2SCAL_Z 1.001
COMPASS_OFS_X 5
COMPASS_OFS_Y 13
COMPASS_OFS_Z -18
COMPASS_OFS2_X 5
COMPASS_OFS2_Y 13
COMPASS_OFS2_Z -18
"""


class LaunchError(RuntimeError):
    """An arducopter instance could not be started or did not start listening."""


def find_arducopter() -> str | None:
    """Path of the arducopter binary to use, or None.

    ``ARDUPILOT_SITL_BINARY`` (a path or a command name) wins when set; a set but unusable value
    gives None rather than silently picking another binary from PATH.
    """
    configured = os.environ.get(ENV_BINARY, "").strip()
    if configured:
        found = shutil.which(os.path.expanduser(configured))
        return os.path.abspath(found) if found else None
    return shutil.which("arducopter")


@dataclass(frozen=True)
class BinaryFlags:
    """Which optional command-line flags the binary understands (older builds lack some)."""

    base_port: bool = True
    sysid: bool = True
    serial_ports: bool = True  # --serial0..9; before 2023 they were --uartA..J


@lru_cache(maxsize=8)
def probe_flags(binary: str) -> BinaryFlags:
    """Read the binary's usage text (``--help``) to see which flags it has.

    If the usage text cannot be read, assume a current ArduPilot.
    """
    with tempfile.TemporaryDirectory(prefix="nazorat-arducopter-help-") as cwd:
        try:
            done = subprocess.run(
                [binary, "--help"],
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=15,
            )
        except (OSError, subprocess.TimeoutExpired):
            return BinaryFlags()
    usage = done.stdout + done.stderr
    if "--model" not in usage:
        return BinaryFlags()
    return BinaryFlags(
        base_port="--base-port" in usage,
        sysid="--sysid" in usage,
        serial_ports="--serial1" in usage,
    )


@dataclass(frozen=True)
class InstanceSpec:
    """One vehicle of the fleet: where it listens, who it is, where it lives."""

    index: int  # position in the fleet, 0..count-1
    instance: int  # value passed to -I
    port: int  # SERIAL0 TCP port
    sysid: int
    home: str  # LAT,LON,ALT,HDG
    workdir: Path
    outs: tuple[str, ...] = ()  # SITL device strings for SERIAL1, SERIAL2, ...


def parse_home(home: str) -> tuple[float, float, float, float]:
    parts = [p.strip() for p in home.split(",")]
    if len(parts) != 4:
        raise ValueError(f"home must be LAT,LON,ALT,HDG, got {home!r}")
    try:
        lat, lon, alt, hdg = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"home must be four numbers LAT,LON,ALT,HDG, got {home!r}") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"home latitude/longitude out of range: {home!r}")
    return lat, lon, alt, hdg


def offset_home(home: str, east_m: float) -> str:
    """``home`` moved ``east_m`` metres east, formatted for ``--home``."""
    lat, lon, alt, hdg = parse_home(home)
    lon += east_m / (_METRES_PER_DEG_LAT * math.cos(math.radians(lat)))
    return f"{lat:.7f},{lon:.7f},{alt:g},{hdg:g}"


def _out_devices(out: Sequence[str], index: int) -> tuple[str, ...]:
    devices = []
    for target in out:
        kind, _, rest = target.partition(":")
        host, _, port = rest.rpartition(":")
        if kind != "udp" or not host or not port.isdigit():
            raise ValueError(f"--out must be udp:HOST:PORT, got {target!r}")
        devices.append(f"udpclient:{host}:{int(port) + 10 * index}")
    if len(devices) > 2:
        raise ValueError(
            "the ardupilot engine supports at most two --out targets (SERIAL1, SERIAL2)"
        )
    return tuple(devices)


def plan_instances(
    count: int,
    *,
    home: str,
    base_port: int,
    sysid_base: int,
    spacing: float,
    out: Sequence[str],
    root: Path,
    flags: BinaryFlags,
) -> list[InstanceSpec]:
    """Ports, ids, homes and directories for ``count`` vehicles (pure: creates nothing)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    if sysid_base < 1 or sysid_base + count - 1 > 255:
        raise ValueError("system ids must lie in 1..255")
    if out and not flags.serial_ports:
        raise ValueError("this arducopter has no --serialN flags, so --out is not supported")
    parse_home(home)
    offset = (base_port - SITL_BASE_PORT) // 10 if base_port >= SITL_BASE_PORT else 0
    if not flags.base_port:
        if base_port < SITL_BASE_PORT or (base_port - SITL_BASE_PORT) % 10:
            raise ValueError(
                "this arducopter has no --base-port: its ports follow -I (5760+10*I), "
                f"so the base port must be 5760+10*k, not {base_port}"
            )
    elif _HIGHEST_SIDE_PORT_OFFSET + 10 * (offset + count - 1) > 65535:
        offset = 0  # side ports would overflow; fall back to -I 0..count-1
    specs = []
    for i in range(count):
        instance = offset + i
        port = base_port + 10 * i if flags.base_port else SITL_BASE_PORT + 10 * instance
        if port + 3 > 65535:
            raise ValueError(f"port {port} out of range")
        specs.append(
            InstanceSpec(
                index=i,
                instance=instance,
                port=port,
                sysid=sysid_base + i,
                home=offset_home(home, i * spacing),
                workdir=root / f"vehicle{i}",
                outs=_out_devices(out, i),
            )
        )
    return specs


def build_command(
    binary: str,
    spec: InstanceSpec,
    *,
    speedup: float,
    defaults_files: Sequence[str],
    flags: BinaryFlags,
    model: str = MODEL,
) -> list[str]:
    """The argv for one instance. ``-I`` precedes ``--base-port`` so the latter wins."""
    cmd = [
        binary,
        "--model",
        model,
        "--speedup",
        f"{speedup:g}",
        "--defaults",
        ",".join(defaults_files),
        "--home",
        spec.home,
        "-I",
        str(spec.instance),
    ]
    if flags.base_port:
        cmd += ["--base-port", str(spec.port)]
    if flags.sysid:
        cmd += ["--sysid", str(spec.sysid)]
    for n, device in enumerate(spec.outs, start=1):
        cmd += [f"--serial{n}", device]
    return cmd


def identity_defaults(sysid: int) -> str:
    return (
        "# written by nazorat sitl/ardupilot.py: this instance's identity\n"
        f"SYSID_THISMAV {sysid}\n"
        f"MAV_SYSID {sysid}\n"
    )


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """Linux: SIGKILL the child if the launcher dies without cleaning up."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _listening(pid: int, port: int) -> bool:
    """True once ``pid`` (or a descendant, for wrapper scripts) listens on TCP ``port``."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return False
    for proc in procs:
        try:
            getter = getattr(proc, "net_connections", None) or proc.connections
            conns = getter(kind="tcp")
        except psutil.Error:
            continue
        for conn in conns:
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                return True
    return False


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no output)"
    return "\n".join(text.splitlines()[-lines:]) or "(no output)"


class ArduPilotFleet:
    """N arducopter processes, each in its own process group and working directory.

    Use as a context manager, or call :meth:`start` and :meth:`stop` (idempotent; also run at
    interpreter exit). On Linux each child is SIGKILLed if the thread that started it dies, so
    start the fleet from a long-lived thread (the main thread, normally).
    """

    def __init__(
        self,
        count: int,
        *,
        binary: str | None = None,
        home: str = DEFAULT_HOME,
        speedup: float = 1.0,
        base_port: int = SITL_BASE_PORT,
        sysid_base: int = 1,
        defaults: str | None = None,
        out: Sequence[str] = (),
        spacing: float = 5.0,
        model: str = MODEL,
        ready_timeout: float = 30.0,
        keep_dirs: bool = False,
        extra_params: str = "",
    ) -> None:
        """`extra_params`: more defaults (`NAME VALUE` lines) on top of the base or `defaults`
        files, e.g. the simulated ADS-B traffic of `--adsb-count` (`adsb_params`)."""
        self.extra_params = extra_params
        found = binary or find_arducopter()
        if not found:
            raise LaunchError(f"no arducopter binary: set {ENV_BINARY} or put arducopter on PATH")
        self.binary = found
        self.count = count
        self.home = home
        self.speedup = speedup
        self.base_port = base_port
        self.sysid_base = sysid_base
        self.user_defaults = [str(Path(p).expanduser().resolve()) for p in _split(defaults)]
        for path in self.user_defaults:
            if not Path(path).is_file():
                raise LaunchError(f"defaults file not found: {path}")
        self.out = tuple(out)
        self.spacing = spacing
        self.model = model
        self.ready_timeout = ready_timeout
        self.keep_dirs = keep_dirs
        self.specs: list[InstanceSpec] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        self.root: Path | None = None
        self._logs: list[IO[bytes]] = []
        self._stopped = False

    def __enter__(self) -> ArduPilotFleet:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Launch every instance and wait until each listens on its SERIAL0 port."""
        flags = probe_flags(self.binary)
        self.root = Path(tempfile.mkdtemp(prefix="nazorat-ardupilot-"))
        atexit.register(self.stop)
        try:
            self.specs = plan_instances(
                self.count,
                home=self.home,
                base_port=self.base_port,
                sysid_base=self.sysid_base,
                spacing=self.spacing,
                out=self.out,
                root=self.root,
                flags=flags,
            )
            for spec in self.specs:
                self._spawn(spec, flags)
            self._wait_listening()
        except BaseException:
            self.stop()
            raise

    def _spawn(self, spec: InstanceSpec, flags: BinaryFlags) -> None:
        spec.workdir.mkdir(parents=True)
        base = spec.workdir / "base.parm"
        if not self.user_defaults:
            base.write_text(BASE_DEFAULTS)
        identity = spec.workdir / "identity.parm"
        identity.write_text(identity_defaults(spec.sysid))
        files = [*(self.user_defaults or [str(base)]), str(identity)]
        if self.extra_params:
            extra = spec.workdir / "extra.parm"
            extra.write_text(self.extra_params)
            files.insert(-1, str(extra))
        cmd = build_command(
            self.binary,
            spec,
            speedup=self.speedup,
            defaults_files=files,
            flags=flags,
            model=self.model,
        )
        (spec.workdir / "cmdline.txt").write_text(" ".join(cmd) + "\n")
        log = open(spec.workdir / "arducopter.log", "wb")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        popen_kw: dict[str, Any] = {}
        if sys.platform.startswith("linux"):
            popen_kw["preexec_fn"] = _die_with_parent
        self.procs.append(
            subprocess.Popen(
                cmd,
                cwd=spec.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **popen_kw,
            )
        )

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        pending = dict(zip(range(len(self.specs)), self.specs, strict=True))
        while pending:
            for i, spec in list(pending.items()):
                proc = self.procs[i]
                if proc.poll() is not None:
                    raise LaunchError(
                        f"arducopter instance {i} exited with code {proc.returncode} before "
                        f"listening on {spec.port}; its output:\n{_tail(self.log_path(i))}"
                    )
                if _listening(proc.pid, spec.port):
                    del pending[i]
            if not pending:
                return
            if time.monotonic() > deadline:
                i = next(iter(pending))
                raise LaunchError(
                    f"arducopter instance {i} not listening on TCP {self.specs[i].port} after "
                    f"{self.ready_timeout:g} s; its output:\n{_tail(self.log_path(i))}"
                )
            time.sleep(0.05)

    def log_path(self, index: int) -> Path:
        return self.specs[index].workdir / "arducopter.log"

    def dead(self) -> list[int]:
        """Indexes of instances whose process has exited."""
        return [i for i, p in enumerate(self.procs) if p.poll() is not None]

    def stop(self, term_timeout: float = 5.0) -> None:
        """SIGTERM every process group, SIGKILL what is left, remove the working directories."""
        if self._stopped:
            return
        self._stopped = True
        for proc in self.procs:
            if proc.poll() is None:
                _killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + term_timeout
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        for proc in self.procs:
            _killpg(proc.pid, signal.SIGKILL)  # also reaches leftovers in the group
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        for log in self._logs:
            log.close()
        if self.root is not None and not self.keep_dirs:
            shutil.rmtree(self.root, ignore_errors=True)


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _split(paths: str | None) -> list[str]:
    return [p for p in (paths or "").split(",") if p.strip()]


@contextlib.contextmanager
def _stop_signals(stop: threading.Event) -> Iterator[None]:
    """Turn SIGINT/SIGTERM into ``stop.set()`` while inside (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_ardupilot(
    count: int,
    home: str,
    speedup: float,
    base_port: int,
    sysid_base: int,
    defaults: str | None,
    out: list[str],
    *,
    spacing: float = 5.0,
    binary: str | None = None,
    ready_timeout: float = 60.0,
    stop: threading.Event | None = None,
    extra_params: str = "",
) -> int:
    """Run the fleet until SIGINT/SIGTERM (or ``stop`` is set); return the exit status.

    Prints ``sitl: vehicle I sysid S tcp:127.0.0.1:PORT`` per vehicle and then ``sitl: ready``
    on stdout, like the simulator. Status 2: no binary or bad arguments; 1: launch failed or every
    vehicle died; 0: stopped on request.
    """
    stop = stop or threading.Event()
    with _stop_signals(stop):
        try:
            fleet = ArduPilotFleet(
                count,
                binary=binary,
                home=home,
                speedup=speedup,
                base_port=base_port,
                sysid_base=sysid_base,
                defaults=defaults,
                out=out,
                spacing=spacing,
                ready_timeout=ready_timeout,
                extra_params=extra_params,
            )
        except (LaunchError, ValueError) as exc:
            print(f"sitl: {exc}", file=sys.stderr, flush=True)
            return 2
        try:
            fleet.start()
        except ValueError as exc:
            print(f"sitl: {exc}", file=sys.stderr, flush=True)
            return 2
        except LaunchError as exc:
            print(f"sitl: {exc}", file=sys.stderr, flush=True)
            return 1
        try:
            print(f"sitl: arducopter {fleet.binary}, working dirs in {fleet.root}", file=sys.stderr)
            for spec in fleet.specs:
                print(f"sitl: vehicle {spec.index} sysid {spec.sysid} tcp:127.0.0.1:{spec.port}")
            print("sitl: ready", flush=True)
            reported: set[int] = set()
            while not stop.wait(0.2):
                for i in fleet.dead():
                    if i not in reported:
                        reported.add(i)
                        code = fleet.procs[i].returncode
                        print(
                            f"sitl: vehicle {i} (arducopter) exited with code {code}:\n"
                            f"{_tail(fleet.log_path(i))}",
                            file=sys.stderr,
                            flush=True,
                        )
                if len(reported) == len(fleet.procs):
                    return 1
            return 0
        finally:
            fleet.stop()


def adsb_params(count: int, radius_m: float, alt_m: float) -> str:
    """ArduPilot's simulated ADS-B receiver with `count` aircraft, as the patrol-adsb trace
    was recorded (shared/traces/README.md): SIM_ADSB_COUNT, ADSB_TYPE 1, SIM_ADSB_RADIUS and
    SIM_ADSB_ALT."""
    if count <= 0:
        return ""
    return (f"SIM_ADSB_COUNT {count}\nADSB_TYPE 1\nSIM_ADSB_RADIUS {radius_m:g}\n"
            f"SIM_ADSB_ALT {alt_m:g}\n")
