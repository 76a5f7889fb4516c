"""The bank and crash tests' shared database (tests/resilience/cluster.py)."""

from .cluster import database

__all__ = ["database"]
