"""The gateway fixtures (a live server with a small seeded market) for the endpoint tests, and
the tick tests' stores (SQLite, and PostgreSQL in a schema of its own) for the store reads."""

from tests.gateway.conftest import market  # noqa: F401  (fixtures, used by name)
from tests.ticks.conftest import store, stores  # noqa: F401
