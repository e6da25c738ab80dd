"""Shared test support: temporary deployments (config dir with free ports and temp paths),
waiting with deadlines, process clean-up."""
