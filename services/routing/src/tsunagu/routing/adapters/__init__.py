"""Routing's adapters: its database tables."""
