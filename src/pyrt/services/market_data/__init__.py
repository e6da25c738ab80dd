"""market-data: Alpaca's data stream in (through ``pyrt.venues.alpaca``: the websocket and
the frame decoding), normalised quotes/trades/bars out on the bus; the service's own rules
(staleness, bar history, gap planning) in ``core``."""
