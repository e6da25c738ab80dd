"""Unit tests of pyrt.ops.notify."""
