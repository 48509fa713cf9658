"""Numbers in request bodies: JSON `true`/`false` are not numbers.

Pydantic's lax mode turns a JSON boolean into 1 or 0 for an int or float field, so a
`"lat": true` became latitude 1.0 (found by the bad-input campaign). These types refuse a
boolean and keep every other lax conversion (an integer for a float); use them for every
number an API body carries.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a number is needed, not true or false")
    return value


Number = Annotated[float, BeforeValidator(_not_bool)]
Integer = Annotated[int, BeforeValidator(_not_bool)]
