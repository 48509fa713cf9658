"""Which stored drones this process may take over: NAZORAT_LINK_REACH.

A drone's URL is in the database, but whether a process can open it depends on where that
process runs: a `tcpout://10.0.3.7:5760` companion computer is reachable from every host on
that network, a `udpin://0.0.0.0:14550` radio only from the host its datagrams arrive at, a
`serial:///dev/ttyUSB0` only from the host the radio is plugged into. The deployment says which:
each process links the drones of its own shard (NAZORAT_SHARD, or its `--drones`) and, when
their owner's lease expires, takes over the drones its NAZORAT_LINK_REACH covers.

Entries (comma-separated; empty, the default: only its own shard, no takeover of others):

- `*`: every stored drone (every process reaches every drone, e.g. all over TCP);
- `shard:NAME`: the drones of that shard (`shard:*` all shards; fnmatch patterns);
- a URL pattern (fnmatch, against the stored URL): `tcpout://*`, `tcpout://10.0.3.*`,
  `udpin://0.0.0.0:14551`, `serial:///dev/serial/by-id/*`.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from mission.fleet.models import Drone

SETTING = "NAZORAT_LINK_REACH"


@dataclass(frozen=True)
class LinkReach:
    shards: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()

    @staticmethod
    def parse(entries: tuple[str, ...]) -> LinkReach:
        """ValueError naming NAZORAT_LINK_REACH for an entry that is neither form."""
        shards: list[str] = []
        urls: list[str] = []
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            if entry == "*":
                urls.append("*")
            elif entry.startswith("shard:"):
                shards.append(entry.removeprefix("shard:"))
            elif "://" in entry:
                urls.append(entry)
            else:
                raise ValueError(f"{SETTING}: {entry!r} is neither `*`, `shard:NAME` nor a URL "
                                 "pattern such as `tcpout://10.0.3.*`")
        return LinkReach(tuple(shards), tuple(urls))

    def covers(self, drone: Drone) -> bool:
        return (any(fnmatch.fnmatchcase(drone.shard, p) for p in self.shards)
                or any(fnmatch.fnmatchcase(drone.url, p) for p in self.urls))

    def describe(self) -> str:
        parts = [f"shard:{s}" for s in self.shards] + list(self.urls)
        return ", ".join(parts) or "its own shard only"
