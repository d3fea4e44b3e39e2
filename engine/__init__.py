"""Engine: the sans-I/O matching core (see docs/engine.md)."""
