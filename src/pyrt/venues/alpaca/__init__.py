"""The Alpaca adapter: alpaca-py clients and the pure mapping between Alpaca payloads and our domain."""
