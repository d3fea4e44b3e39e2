"""Load tests with locust (a later issue)."""
