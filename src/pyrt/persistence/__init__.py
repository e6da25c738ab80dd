"""Persistence: the append-only order journal (SQLite WAL, source of truth) and projections rebuilt from it."""
