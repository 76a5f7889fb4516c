"""Opaque global IDs (Relay): base64 of `Type:pk`."""

from __future__ import annotations

from strawberry import relay

from ..domain.errors import RuleViolation


def encode(type_name: str, pk: int) -> relay.GlobalID:
    return relay.GlobalID(type_name, str(pk))


def decode(value: relay.GlobalID | str, type_name: str, *, missing: str, field: str) -> int:
    """The primary key of an ID of the expected type; anything else is 'not found'."""
    try:
        gid = value if isinstance(value, relay.GlobalID) else relay.GlobalID.from_id(value)
        if gid.type_name != type_name:
            raise ValueError(type_name)
        pk = int(gid.node_id)
    except (ValueError, TypeError, AttributeError) as error:
        raise RuleViolation(missing, field) from error
    if not 0 < pk < 2**63:
        raise RuleViolation(missing, field)
    return pk
