"""schema.graphql is generated and committed; it must match the code (style rule 8)."""

from __future__ import annotations

from pathlib import Path

from imaging_billing.api.schema import schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_committed_schema_matches_the_code() -> None:
    committed = SCHEMA_FILE.read_text()
    assert committed.strip() == schema.as_str().strip(), "run `make schema` and commit"


def test_schema_uses_the_partner_vocabulary() -> None:
    text = schema.as_str()
    for name in (
        "type Account ",
        "type Institution ",
        "type Agreement ",
        "type ExamLot ",
        "type Exam ",
        "type LedgerEntry ",
        "type Notice ",
        "enum LotMode",
        "enum AccountStatus",
    ):
        assert name in text
