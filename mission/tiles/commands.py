"""The `nazorat tiles ...` subcommands (argument parsing and printing; the work is in manage.py
and seed.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mission.settings import Settings
from mission.tiles.archive import ArchiveError
from mission.tiles.manage import describe, import_archive, info_lines
from mission.tiles.seed import (
    DEFAULT_MAX_TILES,
    DEFAULT_RATE,
    SeedError,
    SeedPlan,
    SeedResult,
    parse_bbox,
    parse_zooms,
    seed,
)
from mission.tiles.service import parse_spec


def add_parser(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("tiles", help="base-map tile archives: info, import, seed")
    ts = t.add_subparsers(dest="tiles_command", required=True)
    ts.add_parser("info", help="the archives the service serves (NAZORAT_TILES, <data>/tiles)")
    i = ts.add_parser("import", help="check an archive and install it in <data>/tiles")
    i.add_argument("file", type=Path, help="a .pmtiles (v3) or .mbtiles file")
    i.add_argument("--name", default=None, help="the archive's name (default: the file's)")
    i.add_argument("--replace", action="store_true", help="replace an archive of that name")
    s = ts.add_parser("seed", help="build an MBTiles from a tile server you may bulk-download "
                                   "from (rate-limited, resumable)")
    s.add_argument("--bbox", required=True,
                   help="W,S,E,N in degrees (--bbox=-0.2,51.4,0.1,51.6 when W is negative)")
    s.add_argument("--zoom", required=True, help="A-B, e.g. 12-17")
    s.add_argument("--from", dest="url", required=True,
                   help="XYZ URL template, e.g. https://tiles.unit.example/{z}/{x}/{y}.png")
    s.add_argument("--out", required=True, type=Path, help="the .mbtiles file (resumed if it "
                                                          "exists)")
    s.add_argument("--contact", required=True,
                   help="e-mail or URL of the unit, sent in the User-Agent")
    s.add_argument("--rate", type=float, default=DEFAULT_RATE,
                   help=f"tiles per second at most (default {DEFAULT_RATE}, at most 10)")
    s.add_argument("--max-tiles", type=int, default=DEFAULT_MAX_TILES,
                   help=f"refuse a plan with more tiles (default {DEFAULT_MAX_TILES})")
    s.add_argument("--attribution", default="", help="the source's attribution (its licence)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    tiles_dir = settings.data_dir / "tiles"
    try:
        if args.tiles_command == "info":
            for line in info_lines(parse_spec(settings.tiles), tiles_dir):
                print(line)
            return 0
        if args.tiles_command == "import":
            info = import_archive(args.file, tiles_dir, args.name, args.replace)
            print(f"nazorat: installed {describe(info)}")
            print("nazorat: restart the service to serve it")
            return 0
        plan = SeedPlan(bbox=parse_bbox(args.bbox), zooms=parse_zooms(args.zoom), url=args.url,
                        out=args.out, contact=args.contact, rate=args.rate,
                        max_tiles=args.max_tiles, attribution=args.attribution)
        result = seed(plan, progress=_progress)
        print(f"\nnazorat: {result.fetched} fetched, {result.skipped} already there, "
              f"{result.missing} not on the server, of {result.total}: {args.out}")
        return 0
    except (ArchiveError, SeedError) as e:
        print(f"nazorat: tiles {args.tiles_command}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nnazorat: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


def _progress(r: SeedResult) -> None:
    done = r.fetched + r.skipped + r.missing
    if sys.stderr.isatty():
        print(f"\r{done}/{r.total} tiles", end="", file=sys.stderr, flush=True)
