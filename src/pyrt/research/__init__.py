"""Research on top of the backtester: sweeps, walk-forward, diagnostics, look-ahead and warm-up checks, replay."""
