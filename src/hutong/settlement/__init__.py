"""Settlement: what attributed traffic costs and earns, as a double-entry ledger by period."""
