"""Why a request cannot be planned; the service maps these to 422 with the message as detail."""

from __future__ import annotations


class PlanningError(ValueError):
    """The request cannot be planned as given."""


class InvalidRequestError(PlanningError):
    """Malformed input: duplicate ids, degenerate polygons, nonsense pattern parameters."""


class AltitudeError(PlanningError):
    """An altitude or the stack of altitude layers breaks the legal ceiling."""


class UnreachableTargetError(PlanningError):
    """A target no drone can ever reach: inside a no-fly zone or enclosed by them."""

    def __init__(self, target_id: str, why: str) -> None:
        super().__init__(f"target {target_id!r} is unreachable: {why}")
        self.target_id = target_id
        self.why = why

    def __reduce__(self) -> tuple[type[UnreachableTargetError], tuple[str, str]]:
        # The service plans in a worker process; the error must survive the trip back.
        return (type(self), (self.target_id, self.why))
