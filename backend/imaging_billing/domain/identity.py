"""Public IDs as people and partners see them: base64 of `Type:pk` (the Relay global ID)."""

from __future__ import annotations

import base64


def public_id(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()
