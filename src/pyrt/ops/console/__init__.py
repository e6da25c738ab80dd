"""The operator console: the web page served by the control process and the CLI views."""
