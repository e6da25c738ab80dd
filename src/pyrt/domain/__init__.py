"""Pure domain vocabulary shared by every layer: enums in Alpaca's own spelling, money and
quantity helpers (Decimal), market data records, clocks and ids. Nothing here does I/O."""
