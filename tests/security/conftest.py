"""Fixtures shared by the security tests: people's browsers on one app."""

from ..api.test_access_api import browsers  # noqa: F401 - the fixture, for these modules
