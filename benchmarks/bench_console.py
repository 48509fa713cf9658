"""Is the web console still responsive with a large fleet? Headless Chromium (Debian's
`chromium` through Playwright) on the real console, signed in as an operator, against the real
service and simulated drones streaming at 5 Hz.

Per fleet size (baseline: 3 drones, the demo's fleet; then 30 and 100), measured in one run:
- frame time: intervals between requestAnimationFrame callbacks over the window (p50, p99,
  max) and the share of frames over 50 ms. A page that keeps up draws at the display rate
  (about 16.7 ms, headless included);
- long tasks: main-thread tasks over 50 ms (PerformanceObserver `longtask`): count and total;
- script and task time per second of wall time, from Chromium's own counters (CDP
  `Performance.getMetrics`: ScriptDuration, TaskDuration, LayoutDuration, RecalcStyleDuration),
  i.e. the share of one core the page's main thread spends;
- input latency: a click on a fleet-table row until the detail panel shows that drone;
- updates/s: vehicle objects the console's socket received per second (the work it was given).

The ratio columns divide by the 3-drone baseline of the same run. The service, the simulator and
the browser share the machine (2 cores here): frame times on a starved machine are an upper
bound, so the machine's load is printed too.

    .venv/bin/python benchmarks/bench_console.py            # 3, 30, 100 drones, 20 s each
    .venv/bin/python benchmarks/bench_console.py --quick    # 3 and 100 drones, 10 s each
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_service import Service, Sim, _percentile, _revision

ROOT = Path(__file__).resolve().parents[1]

FRAME_PROBE = """
() => {
  const s = { frames: [], long: [], t0: performance.now() };
  let last = performance.now();
  const tick = (t) => { s.frames.push(t - last); last = t; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) s.long.push(e.duration);
  }).observe({ type: "longtask", buffered: false });
  window.__bench = s;
}
"""


@dataclass
class Row:
    drones: int
    frame_p50: float
    frame_p99: float
    frame_max: float
    slow_share: float
    long_tasks: int
    long_ms: float
    script_share: float
    task_share: float
    layout_share: float
    click_ms: float
    updates_s: float
    load: float


def chromium() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        raise SystemExit("no chromium binary: `make browser` (Debian package chromium)")
    return path


def metrics(cdp: Any) -> dict[str, float]:
    return {m["name"]: float(m["value"]) for m in cdp.send("Performance.getMetrics")["metrics"]}


def measure(browser: Any, count: int, window: float) -> Row:
    sim = Sim(count)
    data = Path(tempfile.mkdtemp(prefix="bench-console-"))
    svc = Service(sim.ports, data)
    try:
        sim.start()
        svc.start()
        svc.wait_ready(count)
        ctx = browser.new_context(viewport={"width": 1366, "height": 768})
        assert svc.token is not None
        ctx.add_cookies([{"name": "nazorat_session", "value": svc.token,
                          "url": f"http://127.0.0.1:{svc.port}", "httpOnly": True}])
        # tiles would come from the internet: answer with nothing, as offline
        ctx.route("https://*.tile.openstreetmap.org/**", lambda r: r.abort())
        page = ctx.new_page()
        page.goto(f"http://127.0.0.1:{svc.port}/", wait_until="domcontentloaded")
        page.wait_for_selector("body[data-ready=true]", timeout=60_000)
        # a function, not an expression: the console's CSP forbids eval, which Playwright uses
        # for expression predicates
        page.wait_for_function(
            "n => document.querySelectorAll('.fleet-table tbody tr').length >= n",
            arg=count, timeout=120_000)
        time.sleep(2.0)  # past the first snapshot's rendering
        cdp = ctx.new_cdp_session(page)
        cdp.send("Performance.enable")
        page.evaluate(FRAME_PROBE)
        received0 = page.evaluate("window.nazoratConsole.ws.vehiclesReceived")
        before, load0, t0 = metrics(cdp), os.getloadavg()[0], time.monotonic()
        time.sleep(window)
        after, elapsed = metrics(cdp), time.monotonic() - t0
        probe = page.evaluate("window.__bench")
        received = page.evaluate("window.nazoratConsole.ws.vehiclesReceived") - received0

        # input latency: click a row, wait for the detail panel to name that drone
        clicks = []
        for i in range(5):
            rows = page.locator(".fleet-table tbody tr")
            target = rows.nth(i % count)
            name = target.locator("td[data-col=name]").inner_text()
            t = time.perf_counter()
            target.click()
            page.wait_for_function(
                "n => document.querySelector('[data-testid=detail-title]')?.textContent === n",
                arg=name, timeout=10_000)
            clicks.append((time.perf_counter() - t) * 1000)
        ctx.close()

        frames = sorted(probe["frames"][1:])
        share = {k: (after.get(k, 0.0) - before.get(k, 0.0)) / elapsed
                 for k in ("ScriptDuration", "TaskDuration", "LayoutDuration",
                           "RecalcStyleDuration")}
        return Row(
            drones=count,
            frame_p50=_percentile(frames, 0.5), frame_p99=_percentile(frames, 0.99),
            frame_max=frames[-1] if frames else float("nan"),
            slow_share=sum(1 for f in frames if f > 50) / max(1, len(frames)),
            long_tasks=len(probe["long"]), long_ms=sum(probe["long"]),
            script_share=share["ScriptDuration"], task_share=share["TaskDuration"],
            layout_share=share["LayoutDuration"] + share["RecalcStyleDuration"],
            click_ms=statistics.median(clicks), updates_s=received / elapsed,
            load=(load0 + os.getloadavg()[0]) / 2,
        )
    finally:
        svc.stop()
        sim.stop()
        shutil.rmtree(data, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3 and 100 drones, 10 s windows")
    ap.add_argument("--drones", type=int, nargs="+", help="fleet sizes (the first is the baseline)")
    ap.add_argument("--window", type=float, help="seconds measured per fleet size")
    args = ap.parse_args()
    counts = args.drones or ([3, 100] if args.quick else [3, 30, 100])
    window = args.window or (10.0 if args.quick else 20.0)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("playwright is not installed: make venv", file=sys.stderr)
        return 2

    print(f"bench_console  rev {_revision()}  window {window:g} s  viewport 1366x768  "
          f"{os.cpu_count()} cores")
    rows: list[Row] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), headless=True,
                                     args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            for n in counts:
                rows.append(measure(browser, n, window))
                print(f"  measured {n} drones", flush=True)
        finally:
            browser.close()

    base = rows[0]
    print()
    print(f"{'drones':>6} {'upd/s':>7} {'frame p50':>9} {'p99':>7} {'max':>7} {'>50ms':>6} "
          f"{'longtasks':>9} {'long ms':>8} {'script':>7} {'task':>6} {'layout':>7} "
          f"{'click ms':>8} {'x script':>8} {'x p99':>6} {'load':>5}")
    for r in rows:
        print(f"{r.drones:>6} {r.updates_s:>7.0f} {r.frame_p50:>9.1f} {r.frame_p99:>7.1f} "
              f"{r.frame_max:>7.0f} {r.slow_share:>6.1%} {r.long_tasks:>9} {r.long_ms:>8.0f} "
              f"{r.script_share:>7.1%} {r.task_share:>6.1%} {r.layout_share:>7.1%} "
              f"{r.click_ms:>8.0f} {r.script_share / max(base.script_share, 1e-9):>8.2f} "
              f"{r.frame_p99 / max(base.frame_p99, 1e-9):>6.2f} {r.load:>5.1f}")
    print("\nscript/task/layout: share of one core the page's main thread spent (CDP "
          "Performance.getMetrics); frame: requestAnimationFrame intervals in ms; click: row "
          "click until the detail panel shows that drone.")
    worst = rows[-1]
    ok = worst.frame_p99 < 100 and worst.click_ms < 300 and worst.task_share < 0.5
    print(f"verdict at {worst.drones} drones: "
          f"{'RESPONSIVE' if ok else 'NOT RESPONSIVE'} (p99 frame < 100 ms, click < 300 ms, "
          "main thread busy < 50 %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
