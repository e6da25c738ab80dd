"""Integration tests of pyrt.ops.notify against local webhook and SMTP receivers."""
