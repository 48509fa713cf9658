"""Time to eyes on scene with an auto-dispatch rule, end to end on a simulated fleet.

The service runs as a subprocess (`nazorat serve --sim N`, the project's simulator at
--speedup, default 1: vehicle time is wall time) with its drones' homes --spacing metres apart
(default 1500: bases 1.5 and 3 km apart). One `auto` rule matches everything; incidents are
posted to the intake API (an integration key) in rounds of one per drone, each 500 m to 2 km
from a random base, and the script waits until every incident of the round has a drone on
scene (its target observed). Each round has a fresh service and fleet (full batteries: after a
4 km round trip the simulated batteries no longer keep the 25 % reserve for another one).

Per stage (report -> dispatch, dispatch -> airborne, airborne -> on scene, report -> on scene)
it prints p50/p95 from the incidents' own `response` timelines, and
- Nazorat's own time: intake (the incident's `reported_at`, stamped by the intake request) to
  the take-off command (`start_mission` in the drone's command record, `requested_at`), its
  p50/p95 (target: p95 under 1 s on 2 cores) and its share of report -> on scene, the rest
  being the vehicle's (take-off, climb, flight);
- on scene vs the plan: (on_scene_at - dispatched_at) / the planned target's `eta_s` (target:
  within 10 %).

    .venv/bin/python benchmarks/bench_response.py [--rounds 2] [--drones 3] [--speedup 1]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
STAGES = [("report -> dispatch", "reported_at", "dispatched_at"),
          ("dispatch -> airborne", "dispatched_at", "airborne_at"),
          ("airborne -> on scene", "airborne_at", "on_scene_at"),
          ("report -> on scene", "reported_at", "on_scene_at")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _t(iso: str) -> datetime:
    dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _pct(xs: list[float], q: float) -> float:
    if not xs:
        return math.nan
    s = sorted(xs)
    pos = (len(s) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def _wait(what: str, check: Any, timeout_s: float, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(every)
    raise RuntimeError(f"timed out waiting for {what}")


def _offset(lat: float, lon: float, north: float, east: float) -> tuple[float, float]:
    return (lat + north / 111_320.0,
            lon + east / (111_320.0 * math.cos(math.radians(lat))))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--drones", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--speedup", type=float, default=1.0)
    ap.add_argument("--spacing", type=float, default=1500.0)
    ap.add_argument("--seed", type=int, default=12)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    rows: list[dict[str, Any]] = []
    for rnd in range(args.rounds):
        rows += _round(args, rng)
        print(f"round {rnd + 1}: {args.drones} incidents on scene", flush=True)
    _print(rows, args)


def _round(args: argparse.Namespace, rng: random.Random) -> list[dict[str, Any]]:
    port = _free_port()
    data = Path(tempfile.mkdtemp(prefix="bench-response-"))
    password = secrets.token_urlsafe(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAZORAT_")}
    env.pop("DATABASE_URL", None)
    env.update(NAZORAT_DATA_DIR=str(data), NAZORAT_ADMIN_USER="admin",
               NAZORAT_ADMIN_PASSWORD=password, NAZORAT_DATABASE_URL=f"sqlite:///{data}/b.db")
    log = open(data / "service.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "mission.cli", "serve", "--host", "127.0.0.1", "--port",
         str(port), "--sim", str(args.drones), "--sim-speedup", str(args.speedup),
         "--sim-spacing", str(args.spacing), "--sim-ekf-delay", "2", "--log-level", "warning"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait("the service", lambda: _up(base), 60)
        token = httpx.post(f"{base}/api/auth/login", json={
            "username": "admin", "password": password}).json()["token"]
        c = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"},
                         timeout=30)
        drones = _wait("the drones ready", lambda: _ready(c, args.drones), 120)
        key = c.post("/api/integration-keys", json={"name": "bench", "source": "camera",
                                                     "rate_per_minute": 600}).json()["key"]
        assert c.post("/api/dispatch-rules", json={"name": "bench: everything", "action":
                                                   "auto"}).status_code == 201
        ids = []
        for _ in range(args.drones):
            home = rng.choice(drones)
            dist, bearing = rng.uniform(500, 2000), rng.uniform(0, 2 * math.pi)
            lat, lon = _offset(home["lat"], home["lon"], dist * math.cos(bearing),
                               dist * math.sin(bearing))
            r = httpx.post(f"{base}/api/intake/incidents", headers={
                "Authorization": f"Bearer {key}"}, json={
                "lat": lat, "lon": lon, "category": "theft", "severity": rng.randint(1, 5)})
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
            time.sleep(rng.uniform(0.5, 2.0))
        incs = _wait("the round on scene", lambda: _on_scene(c, ids),
                     600 / args.speedup + 120, every=1.0)
        return [_measure(c, inc) for inc in incs]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _ready(c: httpx.Client, n: int) -> list[dict[str, Any]] | None:
    out = []
    for d in c.get("/api/drones").json():
        s = d.get("state") or {}
        if (s.get("link") == "up" and s.get("ekf_ok") and s.get("position") and s.get("home")
                and not s.get("armed") and s.get("landed_state") == "on_ground"):
            out.append({"id": d["id"], **s["position"]})
    return out if len(out) >= n else None


def _on_scene(c: httpx.Client, ids: list[int]) -> list[dict[str, Any]] | None:
    incs = [c.get(f"/api/incidents/{i}").json() for i in ids]
    return incs if all(i["response"]["on_scene_at"] for i in incs) else None


def _measure(c: httpx.Client, inc: dict[str, Any]) -> dict[str, Any]:
    r = inc["response"]
    times = {"reported_at": _t(inc["reported_at"]),
             **{k: _t(r[k]) for k in ("dispatched_at", "airborne_at", "on_scene_at")}}
    cmds = c.get(f"/api/drones/{r['drone_id']}/commands").json()
    start = min((_t(x["requested_at"]) for x in cmds if x["name"] == "start_mission"
                 and x["requested_at"] and _t(x["requested_at"]) >= times["dispatched_at"]),
                default=None)
    m = c.get(f"/api/missions/{r['mission_id']}").json()
    eta = next((t["eta_s"] for t in m["targets"] if inc["id"] in t["incident_ids"]), None)
    return {"severity": inc["severity"], "times": times, "start_cmd": start, "eta_s": eta}


def _print(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(f"\n{len(rows)} incidents, {args.drones} drones {args.spacing:.0f} m apart, "
          f"speedup {args.speedup:g}")
    print(f"{'stage':<28}{'p50 s':>9}{'p95 s':>9}")
    for name, a, b in STAGES:
        xs = [(r["times"][b] - r["times"][a]).total_seconds() for r in rows]
        print(f"{name:<28}{_pct(xs, 50):>9.2f}{_pct(xs, 95):>9.2f}")
    own = [(r["start_cmd"] - r["times"]["reported_at"]).total_seconds() for r in rows
           if r["start_cmd"] is not None]
    total = [(r["times"]["on_scene_at"] - r["times"]["reported_at"]).total_seconds()
             for r in rows]
    print(f"{'intake -> takeoff command':<28}{_pct(own, 50):>9.2f}{_pct(own, 95):>9.2f}")
    share = sum(own) / sum(total) if total and own else math.nan
    print(f"Nazorat's own share of report -> on scene: {100 * share:.1f} % "
          f"(flight and vehicle: {100 * (1 - share):.1f} %)")
    ratios = [((r["times"]["on_scene_at"] - r["times"]["dispatched_at"]).total_seconds()
               / r["eta_s"]) for r in rows if r["eta_s"]]
    if ratios:
        print(f"on scene / planned eta_s: median {statistics.median(ratios):.3f}, "
              f"min {min(ratios):.3f}, max {max(ratios):.3f} "
              f"(within 10 %: {sum(abs(x - 1) <= 0.1 for x in ratios)}/{len(ratios)})")


if __name__ == "__main__":
    main()
