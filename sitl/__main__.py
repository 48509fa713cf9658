"""`python -m sitl`: run a simulated ArduCopter fleet, or real arducopter binaries (--engine)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from sitl import control
from sitl.camera.camera import VideoConfig
from sitl.fleet import Fleet, FleetConfig


def _home(text: str) -> tuple[float, float, float, float]:
    parts = [float(p) for p in text.split(",")]
    if len(parts) != 4 or not (-90 <= parts[0] <= 90 and -180 <= parts[1] <= 180):
        raise argparse.ArgumentTypeError("--home must be LAT,LON,ALT,HDG with valid WGS84 values")
    return parts[0], parts[1], parts[2], parts[3]


def _out(text: str) -> tuple[str, int]:
    kind, _, rest = text.partition(":")
    host, _, port = rest.rpartition(":")
    if kind != "udp" or not host or not port.isdigit():
        raise argparse.ArgumentTypeError("--out must be udp:HOST:PORT")
    return host, int(port)


def _size(text: str) -> tuple[int, int]:
    w, _, h = text.lower().partition("x")
    if not (w.isdigit() and h.isdigit()) or int(w) % 16 or int(h) % 2 \
            or not (112 <= int(w) <= 3840 and 16 <= int(h) <= 2160):
        raise argparse.ArgumentTypeError(
            "--video-size must be WxH, W a multiple of 16 in 112..3840, H even in 16..2160")
    return int(w), int(h)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m sitl", description=__doc__)
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--home", type=_home, default=(41.311081, 69.240562, 455.0, 0.0))
    p.add_argument("--speedup", type=float, default=1.0)
    p.add_argument("--base-port", type=int, default=5760)
    p.add_argument("--sysid-base", type=int, default=1)
    p.add_argument("--out", type=_out, action="append", default=[])
    p.add_argument("--control-port", type=int, default=None,
                   help="fault-injection JSON-lines port (default: base-port - 10)")
    p.add_argument("--ekf-delay", type=float, default=40.0,
                   help="vehicle seconds from boot until a position estimate (real SITL: ~40)")
    p.add_argument("--spacing", type=float, default=5.0, help="metres east between vehicles")
    p.add_argument("--host", default="0.0.0.0", help="address the vehicle ports bind")
    p.add_argument("--adsb-count", type=int, default=0,
                   help="simulated aircraft every copter relays as ADSB_VEHICLE (SIM_ADSB_COUNT)")
    p.add_argument("--adsb-radius", type=float, default=3000.0,
                   help="their spread around home, metres (SIM_ADSB_RADIUS)")
    p.add_argument("--adsb-alt", type=float, default=300.0,
                   help="their altitude, metres as reported (SIM_ADSB_ALT)")
    p.add_argument("--remote-id-count", type=int, default=0,
                   help="simulated Remote ID broadcasters (small drones nearby) every copter "
                        "relays as OPEN_DRONE_ID_BASIC_ID + _LOCATION")
    p.add_argument("--camera", action="store_true",
                   help="every copter streams H.264 RTP video and has a gimbal (sitl/camera)")
    p.add_argument("--video-host", default="127.0.0.1", help="where the cameras send RTP")
    p.add_argument("--video-base-port", type=int, default=5600,
                   help="copter i's camera sends to this port + i")
    p.add_argument("--video-size", type=_size, default=(640, 360), help="WxH (default 640x360)")
    p.add_argument("--video-fps", type=int, default=15)
    p.add_argument("--engine", choices=["sim", "ardupilot"], default="sim")
    p.add_argument("--defaults", default=None, help="ardupilot engine: extra .parm defaults file")
    args = p.parse_args(argv)
    if args.count < 1 or args.speedup <= 0 or not 1 <= args.sysid_base <= 255 - args.count + 1:
        p.error("--count >= 1, --speedup > 0 and sysids within 1..255 are required")
    if not 0 <= args.adsb_count <= 100 or args.adsb_radius <= 0:
        p.error("--adsb-count 0..100 and --adsb-radius > 0 are required")
    if not 0 <= args.remote_id_count <= 100:
        p.error("--remote-id-count 0..100 is required")
    if not 1 <= args.video_fps <= 60 or not 1 <= args.video_base_port <= 65535 - args.count:
        p.error("--video-fps 1..60 and --video-base-port 1..65535-count are required")
    if args.base_port + 10 * args.count + 3 > 65535:
        p.error("--base-port too high for this many vehicles")
    return args


def _video(args: argparse.Namespace) -> VideoConfig | None:
    if not args.camera:
        return None
    width, height = args.video_size
    return VideoConfig(host=args.video_host, base_port=args.video_base_port, width=width,
                       height=height, fps=args.video_fps)


async def _run_sim(args: argparse.Namespace) -> int:
    cfg = FleetConfig(count=args.count, home=args.home, speedup=args.speedup,
                      base_port=args.base_port, sysid_base=args.sysid_base,
                      outs=tuple(args.out), ekf_delay=args.ekf_delay, spacing=args.spacing,
                      host=args.host, adsb_count=args.adsb_count,
                      adsb_radius=args.adsb_radius, adsb_alt=args.adsb_alt,
                      remote_id_count=args.remote_id_count, video=_video(args))
    fleet = Fleet(cfg)
    await fleet.start()
    control_port = args.control_port if args.control_port is not None else args.base_port - 10
    ctl = await control.serve(fleet, control_port)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, fleet.stop)
    for sv in fleet.vehicles:
        print(f"sitl: vehicle {sv.vehicle.instance} sysid {sv.vehicle.sysid} "
              f"tcp:127.0.0.1:{sv.port}", flush=True)
        if sv.camera is not None:
            print(f"sitl: camera {sv.vehicle.instance} rtp udp:{args.video_host}:{sv.camera.port}",
                  flush=True)
    print(f"sitl: control tcp:127.0.0.1:{control_port}", flush=True)
    print("sitl: ready", flush=True)
    try:
        await fleet.run()
    finally:
        ctl.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.engine == "ardupilot":
        from sitl.ardupilot import adsb_params, run_ardupilot

        home = ",".join(str(x) for x in args.home)
        return run_ardupilot(args.count, home, args.speedup, args.base_port, args.sysid_base,
                             args.defaults, [f"udp:{h}:{p}" for h, p in args.out],
                             spacing=args.spacing,
                             extra_params=adsb_params(args.adsb_count, args.adsb_radius,
                                                      args.adsb_alt))
    return asyncio.run(_run_sim(args))


if __name__ == "__main__":
    sys.exit(main())
