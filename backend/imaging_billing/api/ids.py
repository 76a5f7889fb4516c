"""Opaque global IDs (Relay): base64 of `Type:pk`.

Each object has exactly one ID: the one `encode` gives. Variants that decode to the same
key (`Account:02`, a non-ASCII digit, spaces, padding or characters base64 skips) do not
resolve, so an ID can be compared, logged and cached as a string.
"""

from __future__ import annotations

import re

from strawberry import relay

from ..domain.errors import RuleViolation

_NODE_ID = re.compile(r"[1-9][0-9]{0,18}")
MAX_PK = 2**63 - 1


def encode(type_name: str, pk: int) -> relay.GlobalID:
    return relay.GlobalID(type_name, str(pk))


def decode(value: relay.GlobalID | str, type_name: str, *, missing: str, field: str) -> int:
    """The primary key of an ID of the expected type, in its one canonical form; anything
    else is 'not found'."""
    try:
        gid = value if isinstance(value, relay.GlobalID) else relay.GlobalID.from_id(value)
    except (ValueError, TypeError, AttributeError) as error:
        raise RuleViolation(missing, field) from error
    if gid.type_name != type_name or not _NODE_ID.fullmatch(gid.node_id):
        raise RuleViolation(missing, field)
    pk = int(gid.node_id)
    if pk > MAX_PK or (isinstance(value, str) and value != str(encode(type_name, pk))):
        raise RuleViolation(missing, field)
    return pk
