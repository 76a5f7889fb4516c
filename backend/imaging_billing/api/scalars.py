"""Custom scalars, registered through `StrawberryConfig.scalar_map` in schema.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

from ..domain.errors import RuleViolation
from ..domain.money import MAX_FEN

# Instants people and gateways may name: far enough either way, and 15-year
# storage ends (R-EXAM-5) stay inside Python's calendar.
MIN_YEAR, MAX_YEAR = 1900, 2200

Fen = NewType("Fen", int)


def _parse_fen(value: object) -> Fen:
    """A whole number of fen within R-GEN-3's range, else a typed refusal."""
    if isinstance(value, bool):
        raise RuleViolation("R_GEN_3_AMOUNT")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.lstrip("-").isdigit() and len(value) <= 20:
        number = int(value)
    else:
        raise RuleViolation("R_GEN_3_AMOUNT")
    if abs(number) > MAX_FEN:
        raise RuleViolation("R_GEN_3_AMOUNT")
    return Fen(number)


def _parse_datetime(value: object) -> datetime:
    """ISO 8601 with a zone (R-GEN-6); naive or out-of-calendar times are typed refusals."""
    if not isinstance(value, str):
        raise RuleViolation("R_GEN_6_NAIVE_TIME")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise RuleViolation("R_GEN_6_NAIVE_TIME") from error
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise RuleViolation("R_GEN_6_NAIVE_TIME")
    try:
        utc = moment.astimezone(UTC)
    except OverflowError as error:
        raise RuleViolation("R_GEN_6_TIME_RANGE") from error
    if not MIN_YEAR <= utc.year <= MAX_YEAR:
        raise RuleViolation("R_GEN_6_TIME_RANGE")
    return utc


SCALARS: dict[object, ScalarDefinition] = {
    datetime: strawberry.scalar(
        name="DateTime",
        description="An ISO 8601 instant with its zone (e.g. 2026-03-01T16:00:00+08:00).",
        serialize=lambda value: value.isoformat(),
        parse_value=_parse_datetime,
    ),
    Fen: strawberry.scalar(
        name="Fen",
        description=(
            "CNY in fen (1 yuan = 100 fen), a whole number (R-GEN-3); larger than Int allows."
        ),
        serialize=int,
        parse_value=_parse_fen,
    ),
}
