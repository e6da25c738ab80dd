"""The simulated venue: a pure, deterministic matching core and paper account (seeded, clock-driven). The sim broker serves it over Alpaca's protocol; the backtester reuses it."""
