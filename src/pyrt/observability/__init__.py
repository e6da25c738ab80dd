"""Observability: the metrics registry (every metric name declared once) and logging set-up."""
