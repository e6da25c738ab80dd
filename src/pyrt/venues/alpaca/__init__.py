"""The Alpaca venue: alpaca-py clients (REST orders, historical bars, the trade-updates and
market-data streams) and the pure decoding of Alpaca payloads (orders and trade updates in
``mapping``, market-data frames and bars in ``feed``) into our domain and bus payloads."""
