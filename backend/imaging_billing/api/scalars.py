"""Custom scalars, registered through `StrawberryConfig.scalar_map` in schema.py."""

from __future__ import annotations

from typing import NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

from ..domain.money import MAX_FEN

Fen = NewType("Fen", int)


def _parse_fen(value: object) -> Fen:
    if isinstance(value, bool):
        raise ValueError("Fen is a whole number of fen")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.lstrip("-").isdigit():
        number = int(value)
    else:
        raise ValueError("Fen is a whole number of fen")
    if abs(number) > MAX_FEN:
        raise ValueError("Fen out of range")
    return Fen(number)


SCALARS: dict[object, ScalarDefinition] = {
    Fen: strawberry.scalar(
        name="Fen",
        description=(
            "CNY in fen (1 yuan = 100 fen), a whole number (R-GEN-3); larger than Int allows."
        ),
        serialize=int,
        parse_value=_parse_fen,
    )
}
