"""signal-bridge: strategies turn market data into signals and order intents."""
