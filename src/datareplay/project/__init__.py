"""A project folder: its paths, safe names, the per-case run lock, scaffolding, demo data."""
