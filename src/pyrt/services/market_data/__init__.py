"""market-data: alpaca-py data stream in, normalised quotes/trades/bars out on the bus."""
