"""The state machines' databases (tests/support/machines.py)."""

from ..support.machines import databases, postgres_databases, sqlite_databases

__all__ = ["databases", "postgres_databases", "sqlite_databases"]
