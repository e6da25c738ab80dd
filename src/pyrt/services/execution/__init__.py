"""execution-engine: journal-first order submission through a venue adapter, one order state machine, reconciliation."""
