"""py_rt: algorithmic trading on US equities through Alpaca.

Four services (market-data, signal-bridge, risk-manager, execution-engine) talk over a
ZeroMQ bus; the execution engine trades through alpaca-py against real Alpaca or the
built-in simulated broker (`pyrt sim-broker`), which speaks Alpaca's own protocol.
"""

__version__ = "0.1.0"
