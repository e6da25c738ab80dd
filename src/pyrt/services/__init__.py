"""The four services. Each has a pure synchronous core.py (no I/O, time from a Clock) and a thin service.py shell that owns sockets and loops."""
