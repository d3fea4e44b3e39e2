"""Settlement: engine events to official-channel transactions in a double-entry ledger.

`settlement.schedule` reads the fee, levy and tax schedule (data, `schedule.toml`);
`settlement.ledger` is the vocabulary (accounts, postings, transactions, batches);
`settlement.booking` is the pure booking function (events in, a balanced batch out);
`settlement.store` is the `Store` protocol with its SQLite and PostgreSQL implementations;
`settlement.booker` drives a store with the booking function, exactly once. See
docs/settlement.md.
"""
