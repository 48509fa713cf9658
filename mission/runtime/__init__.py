"""The runtime: what builds the service's objects from `Settings`, owns them, starts them in
order and stops them within bounds. One place wires the process, so the app
(mission/app.py), the link worker (mission/linkworker.py) and the tests get the same objects,
each collaborator made once and handed to those that need it (docs/architecture.md).

- `mission.runtime.links.LinkSide`: the vehicle side (database, telemetry hub, fleet link,
  bus, zones, interlocks, fleet registry, track recorder), all a link worker needs;
- `mission.runtime.service.Runtime`: the whole service, a `LinkSide` plus users, audit,
  incidents, planning, missions, commands, tiles, metrics and rate limits.

Nothing here imports FastAPI: a link worker loads no router and no web framework. The modules
are imported by their full names (this package's `__init__` imports nothing), so that the link
worker does not load the service's side either.
"""
