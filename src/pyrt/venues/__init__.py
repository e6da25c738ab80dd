"""Venues: the one venue interface, the simulated matching core and paper account, and the alpaca-py adapter."""
