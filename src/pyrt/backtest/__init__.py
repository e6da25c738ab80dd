"""`pyrt backtest`: the live strategy, risk, execution and matching cores run on history."""
