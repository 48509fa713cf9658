"""JSON booleans are not numbers: the API's bodies refuse them (a `"lat": true` was taken as
latitude 1.0 before; found by the bad-input campaign with another seed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from inprocess import in_process
from mission.fleet.command_params import InvalidParameters, parse
from mission.incidents.models import IncidentCreate
from mission.missions.schemas import PlanIn

pytestmark = pytest.mark.nopg


@pytest.mark.parametrize("field", ["lat", "lon", "severity"])
def test_incident_numbers_refuse_booleans(field: str) -> None:
    body = {"lat": 41.3, "lon": 69.2, "category": "theft", "severity": 3, "source": "other"}
    IncidentCreate.model_validate_json(
        '{"lat": 41, "lon": 69, "category": "theft", "severity": 3, "source": "other"}')
    with pytest.raises(ValidationError) as e:
        IncidentCreate.model_validate({**body, field: True})
    assert e.value.errors()[0]["loc"] == (field,)


def test_plan_and_command_numbers_refuse_booleans() -> None:
    with pytest.raises(ValidationError):
        PlanIn.model_validate({"drones": [1], "altitude_m": True})
    with pytest.raises(InvalidParameters) as e:
        parse("goto", {"lat": 41.3, "lon": False, "alt": 20})
    assert e.value.errors[0]["field"] == "lon"
    assert parse("goto", {"lat": 41, "lon": 69, "alt": 20}).body() == {
        "lat": 41.0, "lon": 69.0, "alt": 20.0}


async def test_the_api_answers_422_naming_the_field(tmp_path: Path) -> None:
    async with in_process(tmp_path) as svc, svc.http() as c:
        r = await c.post("/api/incidents", json={"lat": True, "lon": 69.2, "category": "theft",
                                                 "severity": 3, "source": "other"})
        assert r.status_code == 422, r.text
        assert "lat" in r.text
