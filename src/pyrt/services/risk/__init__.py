"""risk-manager: pre-trade checks, trading state and (later) the circuit breaker."""
