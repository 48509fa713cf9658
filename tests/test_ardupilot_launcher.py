"""The real-SITL launcher (sitl/ardupilot.py), tested with a fake ``arducopter`` script.

Only the last test needs a real binary (marked ``ardupilot``, skipped without one).
"""

from __future__ import annotations

import json
import math
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from sitl.ardupilot import (
    BASE_DEFAULTS,
    ENV_BINARY,
    ArduPilotFleet,
    BinaryFlags,
    LaunchError,
    build_command,
    find_arducopter,
    offset_home,
    plan_instances,
    probe_flags,
)
from sitl_fleet import NO_BINARY_REASON, find_free_base_port, wait_for

HOME = "41.311081,69.240562,455,0"

# A stand-in for arducopter: prints a usage text for --help, otherwise records its argv, working
# directory and defaults files, then listens on the SERIAL0 port the real binary would use.
# FAKE_IGNORE_TERM=1 makes it ignore SIGTERM and start a grandchild in its process group.
FAKE_ARDUCOPTER = """\
#!{python}
import json, os, signal, socket, subprocess, sys, time
args = sys.argv[1:]
if "--help" in args:
    print(os.environ.get("FAKE_USAGE", "Options:\\n --model M\\n --base-port P\\n --sysid ID\\n"
                         " --serial1 device\\n"))
    sys.exit(0)
def opt(name, default=None):
    return args[args.index(name) + 1] if name in args else default
instance = int(opt("-I", "0"))
port = int(opt("--base-port", str(5760 + 10 * instance)))
record = {{
    "argv": sys.argv, "cwd": os.getcwd(), "pid": os.getpid(), "port": port,
    "defaults": {{p: open(p).read() for p in opt("--defaults", "").split(",") if p}},
}}
if os.environ.get("FAKE_IGNORE_TERM"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    record["child"] = child.pid
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("0.0.0.0", port))
sock.listen()
for path in (os.path.join(os.getcwd(), "record.json"),
             os.path.join(os.environ["FAKE_RECORD_DIR"], "%d.json" % instance)):
    with open(path, "w") as f:
        json.dump(record, f)
print("bind port %d for SERIAL0" % port, flush=True)
while True:
    conn, _ = sock.accept()
    conn.close()
"""


def make_executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture
def fake_arducopter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    records = tmp_path / "records"
    records.mkdir()
    monkeypatch.setenv("FAKE_RECORD_DIR", str(records))
    probe_flags.cache_clear()
    (tmp_path / "bin").mkdir()
    fake = tmp_path / "bin" / "arducopter"
    return make_executable(fake, FAKE_ARDUCOPTER.format(python=sys.executable))


def records(tmp_path: Path) -> list[dict[str, object]]:
    files = sorted((tmp_path / "records").glob("*.json"), key=lambda p: int(p.stem))
    return [json.loads(p.read_text()) for p in files]


def gone(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


# ---- finding the binary -------------------------------------------------------------------------


def test_find_arducopter_prefers_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    on_path = make_executable(tmp_path / "arducopter", "#!/bin/sh\n")
    chosen = make_executable(tmp_path / "my-copter", "#!/bin/sh\n")
    monkeypatch.setenv("PATH", str(tmp_path))

    monkeypatch.setenv(ENV_BINARY, str(chosen))
    assert find_arducopter() == str(chosen)

    monkeypatch.setenv(ENV_BINARY, str(tmp_path / "missing"))
    assert find_arducopter() is None  # a broken setting is not papered over with PATH

    monkeypatch.delenv(ENV_BINARY)
    assert find_arducopter() == str(on_path)

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert find_arducopter() is None


# ---- the command line ---------------------------------------------------------------------------


def test_command_line_for_each_instance(tmp_path: Path) -> None:
    flags = BinaryFlags()
    specs = plan_instances(
        3,
        home=HOME,
        base_port=5760,
        sysid_base=7,
        spacing=5.0,
        out=["udp:127.0.0.1:14550"],
        root=tmp_path,
        flags=flags,
    )
    assert [(s.instance, s.port, s.sysid) for s in specs] == [
        (0, 5760, 7),
        (1, 5770, 8),
        (2, 5780, 9),
    ]
    assert [s.workdir for s in specs] == [tmp_path / f"vehicle{i}" for i in range(3)]

    cmd = build_command(
        "/opt/arducopter", specs[1], speedup=5.0, defaults_files=["/a.parm", "/b.parm"], flags=flags
    )
    assert cmd == [
        "/opt/arducopter",
        "--model", "quad",
        "--speedup", "5",
        "--defaults", "/a.parm,/b.parm",
        "--home", offset_home(HOME, 5.0),
        "-I", "1",
        "--base-port", "5770",
        "--sysid", "8",
        "--serial1", "udpclient:127.0.0.1:14560",
    ]  # fmt: skip
    # -I must come first: a --base-port given before -I would be shifted by 10*I for 5760
    assert cmd.index("-I") < cmd.index("--base-port")


def test_instance_numbers_keep_side_ports_apart(tmp_path: Path) -> None:
    specs = plan_instances(
        2, home=HOME, base_port=25000, sysid_base=1, spacing=0, out=[], root=tmp_path,
        flags=BinaryFlags(),
    )  # fmt: skip
    assert [(s.instance, s.port) for s in specs] == [(1924, 25000), (1925, 25010)]


def test_without_base_port_flag_ports_follow_instance(tmp_path: Path) -> None:
    old = BinaryFlags(base_port=False, sysid=False, serial_ports=False)
    specs = plan_instances(
        2, home=HOME, base_port=5780, sysid_base=1, spacing=0, out=[], root=tmp_path, flags=old
    )
    assert [(s.instance, s.port) for s in specs] == [(2, 5780), (3, 5790)]
    cmd = build_command("ac", specs[0], speedup=1, defaults_files=["/d.parm"], flags=old)
    assert "--base-port" not in cmd and "--sysid" not in cmd
    with pytest.raises(ValueError, match="base port must be 5760"):
        plan_instances(
            1, home=HOME, base_port=5785, sysid_base=1, spacing=0, out=[], root=tmp_path, flags=old
        )
    with pytest.raises(ValueError, match="--out"):
        plan_instances(
            1, home=HOME, base_port=5760, sysid_base=1, spacing=0, out=["udp:127.0.0.1:14550"],
            root=tmp_path, flags=old,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"home": "41,69,455"}, "LAT,LON,ALT,HDG"),
        ({"home": "91,69,455,0"}, "out of range"),
        ({"sysid_base": 255, "count": 2}, "1..255"),
        ({"count": 0}, "at least 1"),
        ({"out": ["tcp:127.0.0.1:14550"]}, "udp:HOST:PORT"),
    ],
)
def test_bad_arguments_are_refused(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "count": 1, "home": HOME, "base_port": 5760, "sysid_base": 1, "spacing": 5.0, "out": [],
        "root": tmp_path, "flags": BinaryFlags(),
    }  # fmt: skip
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        plan_instances(**args)  # type: ignore[arg-type]


def test_homes_are_spaced_east() -> None:
    lat, lon, alt, hdg = (float(x) for x in offset_home(HOME, 10.0).split(","))
    east_m = (lon - 69.240562) * 111_319.49 * math.cos(math.radians(lat))
    assert lat == pytest.approx(41.311081)
    assert east_m == pytest.approx(10.0, abs=0.02)
    assert (alt, hdg) == (455.0, 0.0)


def test_probe_flags_reads_usage(tmp_path: Path, fake_arducopter: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    assert probe_flags(str(fake_arducopter)) == BinaryFlags(True, True, True)
    probe_flags.cache_clear()
    monkeypatch.setenv("FAKE_USAGE", "Options:\n --model M\n --uartB device\n")
    assert probe_flags(str(fake_arducopter)) == BinaryFlags(False, False, False)


# ---- processes ----------------------------------------------------------------------------------


def test_fleet_starts_each_instance_in_its_own_dir_and_cleans_up(
    tmp_path: Path, fake_arducopter: Path
) -> None:
    base = find_free_base_port(3, offsets=(0, 2, 3), control=False)
    fleet = ArduPilotFleet(
        3, binary=str(fake_arducopter), home=HOME, speedup=2.5, base_port=base, sysid_base=4
    )
    try:
        fleet.start()
        seen = records(tmp_path)
        assert [r["port"] for r in seen] == [base, base + 10, base + 20]
        root = fleet.root
        assert root is not None and root.is_dir()
        for i, rec in enumerate(seen):
            argv = rec["argv"]
            assert isinstance(argv, list)
            assert rec["cwd"] == str(root / f"vehicle{i}")
            assert argv[argv.index("--sysid") + 1] == str(4 + i)
            assert argv[argv.index("--speedup") + 1] == "2.5"
            assert argv[argv.index("--model") + 1] == "quad"
            defaults = rec["defaults"]
            assert isinstance(defaults, dict)
            texts = list(defaults.values())
            assert texts[0] == BASE_DEFAULTS
            assert f"SYSID_THISMAV {4 + i}\n" in texts[-1]
            assert psutil.Process(int(str(rec["pid"]))).is_running()
        # every instance is its own process group (leader = the process itself)
        assert {os.getpgid(p.pid) for p in fleet.procs} == {p.pid for p in fleet.procs}
    finally:
        fleet.stop()
    for rec in seen:
        assert gone(int(str(rec["pid"])))
    assert not root.exists()


def test_stop_kills_stubborn_process_groups(
    tmp_path: Path, fake_arducopter: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_IGNORE_TERM", "1")
    base = find_free_base_port(2, offsets=(0, 2, 3), control=False)
    with ArduPilotFleet(2, binary=str(fake_arducopter), base_port=base) as fleet:
        pids = [int(str(r[k])) for r in records(tmp_path) for k in ("pid", "child")]
        assert len(pids) == 4
        fleet.stop(term_timeout=0.5)
    wait_for(lambda: all(gone(pid) for pid in pids), timeout=10, what="all fake processes gone")


def test_start_failure_reports_output_and_cleans_up(tmp_path: Path) -> None:
    broken = make_executable(
        tmp_path / "arducopter",
        f"#!{sys.executable}\nimport sys\nprint('Vehicle model (quad) not found')\nsys.exit(3)\n",
    )
    fleet = ArduPilotFleet(2, binary=str(broken), base_port=find_free_base_port(2, control=False))
    with pytest.raises(LaunchError, match=r"(?s)exited with code 3.*model \(quad\) not found"):
        fleet.start()
    assert fleet.root is not None and not fleet.root.exists()
    assert all(p.poll() is not None for p in fleet.procs)


def test_missing_defaults_file_is_refused(fake_arducopter: Path, tmp_path: Path) -> None:
    with pytest.raises(LaunchError, match="defaults file not found"):
        ArduPilotFleet(1, binary=str(fake_arducopter), defaults=str(tmp_path / "nope.parm"))


def test_run_ardupilot_prints_ready_and_stops_on_sigterm(
    tmp_path: Path, fake_arducopter: Path
) -> None:
    """The entry point ``python -m sitl --engine ardupilot`` uses, run as a real process."""
    base = find_free_base_port(2, offsets=(0, 2, 3), control=False)
    user_parm = tmp_path / "mine.parm"
    user_parm.write_text("FRAME_CLASS 1\n")
    code = textwrap.dedent(
        f"""
        from sitl.ardupilot import run_ardupilot
        raise SystemExit(run_ardupilot(2, {HOME!r}, 3.0, {base}, 11, {str(user_parm)!r}, []))
        """
    )
    env = dict(os.environ, **{ENV_BINARY: str(fake_arducopter)})
    proc = subprocess.Popen(
        [sys.executable, "-u", "-c", code],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().rstrip("\n") for _ in range(3)]
        assert lines == [
            f"sitl: vehicle 0 sysid 11 tcp:127.0.0.1:{base}",
            f"sitl: vehicle 1 sysid 12 tcp:127.0.0.1:{base + 10}",
            "sitl: ready",
        ]
        seen = records(tmp_path)
        assert [list(r["defaults"])[0] for r in seen] == [str(user_parm)] * 2  # type: ignore[call-overload]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    for rec in seen:
        assert gone(int(str(rec["pid"])))
        assert not Path(str(rec["cwd"])).exists()


def test_run_ardupilot_without_binary_fails_clearly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from sitl.ardupilot import run_ardupilot

    monkeypatch.setenv(ENV_BINARY, str(tmp_path / "missing"))
    assert run_ardupilot(1, HOME, 1.0, 5760, 1, None, []) == 2
    assert "no arducopter binary" in capsys.readouterr().err


# ---- the real thing -----------------------------------------------------------------------------


@pytest.mark.ardupilot
def test_real_sitl_sends_heartbeat() -> None:
    binary = find_arducopter()
    if binary is None:
        pytest.skip(NO_BINARY_REASON)
    from pymavlink import mavutil

    base = find_free_base_port(1, offsets=(0, 2, 3), control=False)
    with ArduPilotFleet(1, binary=binary, base_port=base, sysid_base=42) as fleet:
        link = mavutil.mavlink_connection(f"tcp:127.0.0.1:{fleet.specs[0].port}")
        try:
            msg = link.wait_heartbeat(timeout=60)
            assert msg is not None, "no HEARTBEAT within 60 s"
            assert msg.autopilot == mavutil.mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA
            assert msg.type == mavutil.mavlink.MAV_TYPE_QUADROTOR
            assert msg.get_srcSystem() == 42
        finally:
            link.close()
