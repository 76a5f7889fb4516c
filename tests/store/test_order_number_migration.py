"""Migration 0006 numbers the orders placed before it by id within their Shanghai day."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command

from imaging_billing.store.migrate import alembic_config, upgrade


def test_existing_orders_are_numbered_by_id_per_shanghai_day(tmp_path: Path) -> None:
    # given a database at 0005 with three orders over two Shanghai days, ids out of time order
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}"
    upgrade(url, "0005")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    placed = {
        1: "2026-03-01 15:59:00.000000",  # 23:59 on 1 March in Shanghai
        2: "2026-03-01 16:00:00.000000",  # 00:00 on 2 March
        3: "2026-03-01 09:00:00.000000",  # 17:00 on 1 March, placed after id 1 by id
    }
    with engine.begin() as conn:
        values: dict[str, object] = {"id": 1, "name": "A", "created_at": placed[1]}
        values |= {"arrears_count": 0, "suspension_noticed": False, "low_balance_noticed": False}
        conn.execute(sa.text(_insert("account", values)), values)
        for order_id, at in placed.items():
            row = {
                "id": order_id,
                "account_id": 1,
                "channel": "ONLINE",
                "state": "PENDING_PAYMENT",
                "total_fen": 100,
                "placed_at": at,
                "placed_by": "t",
            }
            conn.execute(sa.text(_insert("purchase_order", row)), row)
    # when it migrates
    upgrade(url)
    # then numbers follow id within each day, and the counters continue from there
    with engine.begin() as conn:
        numbers = dict(conn.execute(sa.text("SELECT id, number FROM purchase_order")).all())
        days = dict(conn.execute(sa.text("SELECT day, last FROM order_number_day")).all())
    engine.dispose()
    assert numbers == {1: "IB202603010001", 2: "IB202603020001", 3: "IB202603010002"}
    assert days == {"20260301": 2, "20260302": 1}
    # and it goes down and up again to the same numbers
    command.downgrade(alembic_config(url), "0005")
    upgrade(url)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    with engine.begin() as conn:
        again = dict(conn.execute(sa.text("SELECT id, number FROM purchase_order")).all())
    engine.dispose()
    assert again == numbers


def _insert(table: str, row: dict[str, object]) -> str:
    names = ", ".join(row)
    marks = ", ".join(f":{k}" for k in row)
    return f"INSERT INTO {table} ({names}) VALUES ({marks})"
