"""Planning errors cross a process boundary (the service plans in a worker process)."""

from __future__ import annotations

import pickle

from mission.planning.errors import AltitudeError, UnreachableTargetError


def test_errors_survive_pickling_with_their_fields() -> None:
    e = pickle.loads(pickle.dumps(UnreachableTargetError("incident:3", "inside zone:1")))
    assert isinstance(e, UnreachableTargetError)
    assert (e.target_id, e.why) == ("incident:3", "inside zone:1")
    assert "incident:3" in str(e)
    assert str(pickle.loads(pickle.dumps(AltitudeError("too high")))) == "too high"
