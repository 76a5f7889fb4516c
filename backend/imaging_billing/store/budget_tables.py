"""Query cost budgets shared by every API instance on PostgreSQL (api/cost.py): one
leaky bucket per payer, refilled by the database's clock so instances agree on time."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .types import table_of


class QueryBudget(SQLModel, table=True):
    __tablename__ = "query_budget"
    key: str = Field(sa_column=sa.Column(sa.String(200), primary_key=True))
    available: float = Field(sa_column=sa.Column(sa.Float(), nullable=False))
    # Seconds since the epoch by the database's clock when the bucket was last filled.
    updated_at: float = Field(sa_column=sa.Column(sa.Float(), nullable=False))
    # Whether the last charge was paid (what the single statement that charges returns).
    granted: bool = Field(sa_column=sa.Column(sa.Boolean(), nullable=False))


query_budget = table_of(QueryBudget)
