"""The wire: one schema module (envelope, topics, message types), the ZeroMQ transport (the only module importing zmq) and an in-process bus with the same interface for unit tests and backtests."""
