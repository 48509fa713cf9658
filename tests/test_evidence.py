"""Recordings fit for evidence (mission/evidence/, README "Evidence"): real H.264 recorded
as MP4 segments without re-encoding, listed and downloaded as a bundle through the API in
process, verified offline by `nazorat evidence verify` (and failing on one flipped byte);
who may read and delete, the deletion recorded in the chain and the audit log, retention."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import subprocess
import sys
import time
import zipfile
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import pytest
from sqlmodel import Session, col, select

from cli_inprocess import command_env, run_cli
from evidence_video import FPS, HEIGHT, WIDTH, encode, stream
from inprocess import InProcess, in_process
from mission.audit.service import AuditFilter
from mission.evidence.chain import Entry, first_broken
from mission.evidence.context import MissionContext, RecordingContext
from mission.evidence.models import EvidenceLink, EvidenceRecording
from mission.evidence.recorder import AlreadyRecording
from mission.evidence.segment_writer import SegmentWriter
from mission.evidence.store import RecordingFilter, entry_of
from telemetry.video.frame import EncodedFrame

pytestmark = pytest.mark.timeout(120)
REPO_ROOT = Path(__file__).resolve().parents[1]
DRONE = 1


class Fixed:
    """A context provider (mission/evidence/context.py) answering what the test sets."""

    def __init__(self, ctx: RecordingContext) -> None:
        self.ctx = ctx

    async def context(self, drone_id: int) -> RecordingContext:
        return self.ctx


async def record(svc: InProcess, frames: list[EncodedFrame],
                 ctx: RecordingContext | None = None) -> None:
    """Through the entry point the live ingest uses (Runtime.record_video), to the end."""
    if ctx is not None:
        svc.runtime.evidence.recorder.context = Fixed(ctx)
    await svc.runtime.record_video(DRONE, stream(frames))


def flipped(bundle: bytes, member: str, offset: int = 200) -> bytes:
    """The bundle with one byte of `member` inverted (the zip rewritten around it)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(bundle)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == member:
                data = data[:offset] + bytes([data[offset] ^ 0xFF]) + data[offset + 1:]
            dst.writestr(info, data)
    return out.getvalue()


async def test_record_list_download_verify(tmp_path: Path, database_url: str) -> None:
    frames = encode(50)  # 3.3 s, an IDR each second: segments of 1 s start on them
    async with in_process(tmp_path, database_url, recording_segment_s=1.0) as svc:
        svc.fleet.add(DRONE)
        await record(svc, frames, RecordingContext(mission_id=7, incident_ids=(3, 5),
                                                   operator="op-anna"))
        await svc.sign_in("commander")
        async with svc.http("commander") as c:
            r = await c.get("/api/recordings", params={"drone_id": DRONE})
            assert r.status_code == 200, r.text
            [rec] = r.json()
            assert (rec["drone_id"], rec["mission_id"], rec["incident_ids"], rec["operator"],
                    rec["status"], rec["segments"]) == (DRONE, 7, [3, 5], "op-anna",
                                                        "complete", 4)
            assert rec["started_at"] == frames[0].received_at
            assert rec["ended_at"] == frames[-1].received_at
            queries: list[tuple[dict[str, Any], int]] = [
                ({"incident_id": 5}, 1), ({"incident_id": 4}, 0), ({"mission_id": 7}, 1),
                ({"mission_id": 8}, 0), ({"from": "2030-01-01T00:00:00Z"}, 0),
                ({"to": rec["ended_at"] - 1, "from": rec["started_at"]}, 1),
                ({"to": rec["started_at"] - 1}, 0), ({"drone_id": 2}, 0)]
            for query, hits in queries:
                r = await c.get("/api/recordings", params=query)
                assert len(r.json()) == hits, query
            r = await c.get("/api/recordings", params={"from": "yesterday"})
            assert r.status_code == 422 and r.json()["detail"]["field"] == "from"
            r = await c.get(f"/api/recordings/{rec['id']}/bundle")
            assert r.status_code == 200, r.text
            assert r.headers["content-type"] == "application/zip"
            bundle = r.content
        audit = await svc.runtime.audit.query(
            AuditFilter(
                action="recording."))
        assert {(a.action, a.actor) for a in audit} >= {
            ("recording.list", "commander-test"), ("recording.download", "commander-test")}

    path = tmp_path / "bundle.zip"
    path.write_bytes(bundle)
    with zipfile.ZipFile(path) as z:
        names = sorted(z.namelist())
        assert names == ["manifest.json"] + [f"segments/seg-0000{i}.{ext}" for i in range(1, 5)
                                             for ext in ("json", "mp4")]
        # the segments are the camera's H.264, not re-encoded: same access units, same count
        got: list[bytes] = []
        for i in range(1, 5):
            with av.open(io.BytesIO(z.read(f"segments/seg-0000{i}.mp4")), "r") as mp4:
                s = mp4.streams.video[0]
                assert (s.codec_context.name, s.codec_context.width,
                        s.codec_context.height) == ("h264", WIDTH, HEIGHT)
                got.extend(bytes(p) for p in mp4.demux(s) if p.size)
        assert len(got) == len(frames)
        side = json.loads(z.read("segments/seg-00002.json"))
        assert side["format"] == "nazorat-evidence-sidecar/1" and side["video"] == "seg-00002.mp4"
        assert side["samples"] and side["samples"][0]["position"]["lat"] is not None
        assert side["start"] == frames[FPS].received_at  # segment 2 starts on the 2nd IDR

    ok = run_cli(["evidence", "verify", str(path)], command_env({}))
    assert ok.returncode == 0, ok.stderr
    assert "OK: recording" in ok.stdout and "4 segments" in ok.stdout

    bad = tmp_path / "flipped.zip"
    bad.write_bytes(flipped(bundle, "segments/seg-00002.mp4"))
    failed = run_cli(["evidence", "verify", str(bad)], command_env({}))
    assert failed.returncode == 1
    assert "segments/seg-00002.mp4" in failed.stderr and "SHA-256" in failed.stderr

    # the entry point works as a process too (one smoke run)
    proc = subprocess.run([sys.executable, "-m", "mission.cli", "evidence", "verify", str(path)],
                          cwd=REPO_ROOT, env=command_env({}), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr


async def test_tampered_manifest_and_chain_are_named(tmp_path: Path, database_url: str) -> None:
    async with in_process(tmp_path, database_url, recording_segment_s=1.0) as svc:
        await record(svc, encode(31))
        [rec] = await svc.runtime.evidence.store.find(
            RecordingFilter(), 10)
        path = await svc.runtime.evidence.bundle(rec.id, "test")
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    path.unlink()

    def verdict(manifest: dict[str, Any]) -> str:
        out = tmp_path / "t.zip"
        with zipfile.ZipFile(out, "w") as z:
            for n, data in members.items():
                z.writestr(n, json.dumps(manifest) if n == "manifest.json" else data)
        r = run_cli(["evidence", "verify", str(out)], command_env({}))
        assert r.returncode == 1
        return r.stderr

    m = json.loads(members["manifest.json"])
    changed = json.loads(json.dumps(m))
    changed["chain"][1]["meta"]["operator"] = "someone else"  # metadata rewritten
    assert f"chain link seq {m['chain'][1]['seq']}" in verdict(changed)
    dropped = json.loads(json.dumps(m))
    dropped["chain"].pop(0)  # a segment and its link left out
    del dropped["segments"][0]
    dropped["files"] = dropped["files"][2:]
    assert "segments/seg-00001" in verdict(dropped)


async def test_who_may_read_and_delete_and_deletion_is_recorded(
        tmp_path: Path, database_url: str) -> None:
    async with in_process(tmp_path, database_url, recording_segment_s=1.0) as svc:
        await record(svc, encode(31))
        await record(svc, encode(16, t0=1_765_000_100.0))  # a second recording, same drone
        await svc.sign_in("commander")
        async with svc.http("commander") as c:
            first, second = sorted(r["id"] for r in (await c.get("/api/recordings")).json())
        async with svc.http("nobody") as anonymous:
            for url in ("/api/recordings", f"/api/recordings/{first}/bundle",
                        f"/api/recordings/chain/{DRONE}"):
                r = await anonymous.get(url)
                assert r.status_code == 401, url
            assert (await anonymous.delete(f"/api/recordings/{first}")).status_code == 401
        async with svc.http("commander") as c:
            r = await c.delete(f"/api/recordings/{first}")
            assert r.status_code == 403 and r.json()["detail"]["error"] == "forbidden"
        async with svc.http() as admin:
            r = await admin.delete(f"/api/recordings/{first}")
            assert r.status_code == 200, r.text
            link = r.json()["chain"]
            assert link["meta"]["kind"] == "deletion" and link["meta"]["by"] == "admin"
            assert (await admin.delete(f"/api/recordings/{first}")).status_code == 404
            assert (await admin.get(f"/api/recordings/{first}/bundle")).status_code == 410
            assert (await admin.get("/api/recordings/999/bundle")).status_code == 404
            listed = {r["id"]: r for r in (await admin.get("/api/recordings")).json()}
            assert listed[first]["status"] == "deleted"
            assert listed[first]["deleted_by"] == "admin"
            chain = (await admin.get(f"/api/recordings/chain/{DRONE}")).json()
            # the chain still verifies past the deletion: segments 1-3 (first recording),
            # 4-5 (second), then the deletion link
            assert [e["meta"]["kind"] for e in chain] == ["segment"] * 5 + ["deletion"]
            assert first_broken([Entry(**e) for e in chain]) is None
            # and the second recording still downloads and verifies
            r = await admin.get(f"/api/recordings/{second}/bundle")
            assert r.status_code == 200
        assert not (tmp_path / "recordings" / "drone-1" / f"rec-{first:08d}").exists()
        audit = await svc.runtime.audit.query(
            AuditFilter(
                action="recording.delete"))
        assert [(a.actor, a.target, a.outcome) for a in audit] == [
            ("admin", f"recording:{first}", "ok")]
        denied = await svc.runtime.audit.query(
            AuditFilter(
                action="auth.denied", actor="commander-test"))
        assert denied
    path = tmp_path / "second.zip"
    path.write_bytes(r.content)
    assert run_cli(["evidence", "verify", str(path)], command_env({})).returncode == 0


async def test_retention_sweep_deletes_and_records(tmp_path: Path, database_url: str) -> None:
    now = time.time()
    async with in_process(tmp_path, database_url, recording_segment_s=1.0,
                          recording_retention_days=1.0) as svc:
        old = encode(16, t0=now - 3 * 86_400)  # three days old
        garbage = replace(old[0], data=b"\x00\x00\x00\x01\x09\xf0not h264 at all")
        await record(svc, [garbage, *old])  # a keyframe FFmpeg cannot read is dropped
        assert svc.runtime.evidence.recorder.frames_dropped == 1
        await record(svc, encode(16, t0=now - 60))  # a minute old
        assert await svc.runtime.evidence.sweep() == 1
        assert await svc.runtime.evidence.sweep() == 0

        def rows(s: Session) -> tuple[list[tuple[str, str | None, str | None]], list[Entry]]:
            recs = s.exec(select(EvidenceRecording).order_by(col(EvidenceRecording.id))).all()
            links = s.exec(select(EvidenceLink).order_by(col(EvidenceLink.seq))).all()
            return ([(r.status, r.deleted_by, r.deletion_reason) for r in recs],
                    [entry_of(x) for x in links])

        recs, links = await svc.runtime.db.run(rows)
        assert recs == [("deleted", "retention", "retention"), ("complete", None, None)]
        assert links[-1].meta["kind"] == "deletion" and links[-1].meta["by"] == "retention"
        assert first_broken(links) is None
        expired = await svc.runtime.audit.query(
            AuditFilter(
                action="recording.expire"))
        assert [a.actor for a in expired] == ["retention"]


def test_segment_times_keep_going_when_the_source_clock_wraps(tmp_path: Path) -> None:
    """RTP times wrap at 2**32 (and a source may repeat one): the MP4 times still advance,
    by the receive-time gap."""
    frames = encode(20)
    wrapped = [f if i < 8 else replace(f, pts=f.pts - 2**32) for i, f in enumerate(frames)]
    writer = SegmentWriter(tmp_path / "seg.mp4", wrapped[0])
    for f in wrapped[1:]:
        writer.write(f)
    writer.close()
    with av.open(str(tmp_path / "seg.mp4"), "r") as mp4:
        video = mp4.streams.video[0]
        times = [float(p.pts * video.time_base) for p in mp4.demux(video)
                 if p.size and p.pts is not None and video.time_base is not None]
    assert len(times) == 20
    assert all(b > a for a, b in itertools.pairwise(times))
    assert abs(times[-1] - times[0] - 19 / FPS) < 0.01


async def test_context_change_starts_a_new_recording(tmp_path: Path, database_url: str) -> None:
    frames = encode(46)
    contexts = iter([RecordingContext(mission_id=1, incident_ids=(9,), operator="a")] * 2
                    + [RecordingContext(mission_id=2, operator="b")] * 5)

    class Changing:
        async def context(self, drone_id: int) -> RecordingContext:
            return next(contexts)

    async with in_process(tmp_path, database_url, recording_segment_s=1.0) as svc:
        svc.runtime.evidence.recorder.context = Changing()
        await svc.runtime.evidence.recorder.record_drone(DRONE, stream(frames))
        found = await svc.runtime.evidence.store.find(
            RecordingFilter(), 10)
        assert sorted((r.mission_id, r.segments, r.operator) for r in found) == [
            (1, 2, "a"), (2, 2, "b")]
        assert svc.runtime.evidence.recorder.segments_written == 4

        # a stop (the task cancelled) mid-stream keeps what was received: the open segment is
        # closed, hashed and linked, the recording complete
        fed = asyncio.Event()

        async def live() -> AsyncIterator[EncodedFrame]:
            for f in encode(20, t0=1_765_000_500.0):
                yield f
            fed.set()
            await asyncio.Event().wait()  # the camera goes on; nothing more arrives

        recorder = svc.runtime.evidence.recorder
        recorder.context = Fixed(RecordingContext(mission_id=3))
        task = svc.runtime.record_video(DRONE, live())
        await svc.until(fed.is_set, what="frames fed")
        with pytest.raises(AlreadyRecording):
            await recorder.record_drone(DRONE, live())
        async with svc.http() as admin:
            r = await admin.delete(f"/api/recordings/{recorder.active[DRONE]}")
        assert r.status_code == 409 and r.json()["detail"]["error"] == "still_recording"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        [stopped] = await svc.runtime.evidence.store.find(RecordingFilter(mission_id=3), 10)
        assert (stopped.status, stopped.segments) == ("complete", 2)
        assert task not in svc.runtime._tasks and DRONE not in recorder.active


async def test_mission_context_follows_the_dispatch(tmp_path: Path, database_url: str) -> None:
    """MissionContext (the runtime's provider): the drone's active mission, the incidents of
    the target it is flying to now, and the operator who dispatched (not who planned)."""
    from test_missions_inprocess import _incident, _mission, _plan

    async with in_process(tmp_path, database_url) as svc:
        svc.fleet.add(DRONE)
        await svc.sign_in("operator", "planner")
        await svc.sign_in("operator", "dispatcher")
        provider = MissionContext(svc.runtime.db)
        assert await provider.context(DRONE) == RecordingContext()
        async with svc.http("operator", "planner") as planner, \
                svc.http("operator", "dispatcher") as dispatcher:
            near, far = await _incident(planner, 150, 0), await _incident(planner, 600, 0)
            plan = await _plan(planner, drones=[DRONE], incidents=[near, far])
            r = await dispatcher.post(f"/api/missions/{plan['id']}/dispatch")
            assert r.status_code == 200, r.text
            targets = sorted((await _mission(planner, plan["id"]))["targets"],
                             key=lambda t: t["first_seq"])
        assert [t["incident_ids"] for t in targets] == [[near], [far]]
        assert await provider.context(DRONE) == RecordingContext(plan["id"], (near,),
                                                                 "dispatcher")
        for seq in range(1, targets[1]["first_seq"]):
            svc.fleet.reach(DRONE, seq)

        async def on_the_far_one() -> bool:
            return (await provider.context(DRONE)).incident_ids == (far,)

        await svc.until(on_the_far_one, what="the context on the second target")
