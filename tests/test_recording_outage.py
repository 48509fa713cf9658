"""The recorder survives the database going away (issue 13, found by tests/test_chaos.py: a
link worker's recorder ended at the first failed write of a PostgreSQL restart, so nothing of
its drones was recorded afterwards): what could not be written is written with the next flush,
and recording goes on."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select

from mission.db import Database
from mission.recording.models import EventRecord, TrackPoint
from mission.recording.service import RecordingService
from telemetry.hub import TelemetryHub
from telemetry.state import EventKind, GeoPoint, LinkState, VehicleState, make_event

pytestmark = pytest.mark.timeout(30)


def _at(lat: float) -> VehicleState:
    return VehicleState(vehicle_id=4, sysid=4, link=LinkState.UP, updated_at=time.time(),
                        position=GeoPoint(lat, 69.2, 500.0), mode="AUTO", armed=True)


async def _until(pred: Any, what: str) -> None:
    deadline = time.monotonic() + 10
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_rows_of_a_failed_write_are_written_at_the_next_and_recording_goes_on(
    db: Database, monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub = TelemetryHub()
    rec = RecordingService(db, hub, interval_s=0.05)
    real_run = db.run
    outage = {"on": True}

    async def run(fn: Any) -> Any:
        if outage["on"]:
            raise OperationalError("INSERT", {}, Exception("the database system is shutting down"))
        return await real_run(fn)

    monkeypatch.setattr(db, "run", run)
    task = asyncio.create_task(rec.run())
    try:
        await asyncio.sleep(0.01)  # subscribed
        hub.publish(_at(41.30))
        hub.publish_event(make_event(EventKind.MODE_CHANGED, 4, "mode AUTO", old="GUIDED",
                                     new="AUTO"))
        await _until(lambda: len(rec.unwritten) == 2, "the failed write's rows kept")
        hub.publish(_at(41.31))  # while the database is away
        await _until(lambda: len(rec.unwritten) == 3, "the next failed write's rows kept")
        assert not task.done()
        outage["on"] = False
        await _until(lambda: rec.points_written == 2 and rec.events_written == 1,
                     "everything written once the database is back")
        assert rec.unwritten == []
        hub.publish(_at(41.32))
        await _until(lambda: rec.points_written == 3, "recording going on")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    def rows(s: Any) -> tuple[list[float], list[str]]:
        return ([p.lat for p in s.exec(select(TrackPoint).order_by(col(TrackPoint.t)))],
                [e.kind for e in s.exec(select(EventRecord))])

    lats, kinds = await real_run(rows)
    assert lats == [41.30, 41.31, 41.32] and kinds == ["mode_changed"]
