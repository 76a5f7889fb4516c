"""Keeps H1's bombs honest without timing them: each fits its size, and the server's
Executor refuses each one built to the caps."""

from __future__ import annotations

from imaging_billing.api import shape
from imaging_billing.api.execution import Executor
from imaging_billing.api.schema import schema

from .hostile import BOMBS, SIZES


def test_each_bomb_built_to_the_caps_is_refused() -> None:
    executor = Executor(schema._schema)
    chars, tokens = SIZES["caps"]
    for bomb in BOMBS:
        query = bomb.build(chars, tokens)
        assert len(query) <= shape.MAX_QUERY_LENGTH, bomb.name
        prepared = executor.prepare(query)
        if bomb.name == "comment":  # a long comment is no bomb once under the length cap
            assert prepared.errors == ()
            continue
        assert prepared.document is None, bomb.name
        assert prepared.errors, bomb.name
