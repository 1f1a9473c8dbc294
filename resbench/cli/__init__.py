"""Command-line interface: one module per command; app.py wires them together."""
