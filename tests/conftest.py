"""Fixtures shared by every test module."""

from tests.support import http_server  # noqa: F401  (fixture re-export)
