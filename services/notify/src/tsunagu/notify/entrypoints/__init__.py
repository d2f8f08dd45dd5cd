"""Notify's entrypoints: consumers, the sender worker, the HTTP API and staff pages."""
