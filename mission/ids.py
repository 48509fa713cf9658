"""Ids are never reused: a deleted drone's, mission's or rule's id must not come back for a
new one, because its old id lives on elsewhere (bus owner keys, audit targets, caches, consoles,
rows that name it). PostgreSQL's sequences never go back; SQLite needs AUTOINCREMENT, given to
these tables by migration 0010 and declared here for the models (`__table_args__`)."""

from __future__ import annotations

from typing import Any

NO_REUSED_IDS: dict[str, Any] = {"sqlite_autoincrement": True}
