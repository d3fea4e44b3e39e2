"""Tick data for analysts and charts: a durable tape of every trade, bars, price indices and
price-insurance figures, all read models of the engine's event stream (docs/analytics.md)."""
