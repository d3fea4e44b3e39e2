"""Settlement: trades to official-channel transactions and double-entry postings (a later issue)."""
