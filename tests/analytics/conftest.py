"""The gateway fixtures (a live server with a small seeded market) for the endpoint tests."""

from tests.gateway.conftest import market  # noqa: F401  (a fixture, used by name)
