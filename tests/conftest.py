"""Fixtures shared by every test module."""

from tests.support import http_server, module_server, server  # noqa: F401  (fixture re-export)
