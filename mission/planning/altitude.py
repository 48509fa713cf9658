"""Altitude layers: every drone of one plan flies at its own height so simultaneous flights never
share a level, and no layer may exceed the legal ceiling."""

from __future__ import annotations

from mission.planning.errors import AltitudeError
from mission.planning.model import AltitudePolicy


def check_altitude(alt_m: float, policy: AltitudePolicy, what: str = "mission altitude") -> None:
    if alt_m <= 0:
        raise AltitudeError(f"{what} {alt_m:g} m above ground must be positive")
    if alt_m > policy.max_agl_m:
        raise AltitudeError(
            f"{what} {alt_m:g} m above ground exceeds the legal maximum of {policy.max_agl_m:g} m"
        )


def layer_altitudes(n_drones: int, policy: AltitudePolicy) -> list[float]:
    """Heights above ground for drones 0..n-1: base, base + separation, ...

    Raises AltitudeError when the base or the top layer is above the ceiling, or when drones
    would share a layer.
    """
    check_altitude(policy.base_agl_m, policy)
    if n_drones > 1 and policy.separation_m <= 0:
        raise AltitudeError(
            f"layer separation {policy.separation_m:g} m must be positive to keep "
            f"{n_drones} drones apart vertically"
        )
    layers = [policy.base_agl_m + k * policy.separation_m for k in range(n_drones)]
    if layers and layers[-1] > policy.max_agl_m:
        raise AltitudeError(
            f"{n_drones} drones need altitude layers up to {layers[-1]:g} m above ground "
            f"({policy.base_agl_m:g} m + {n_drones - 1} x {policy.separation_m:g} m), above the "
            f"legal maximum of {policy.max_agl_m:g} m: plan fewer drones, lower the base altitude "
            f"or reduce the separation"
        )
    return layers
