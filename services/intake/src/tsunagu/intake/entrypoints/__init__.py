"""Intake's entrypoints: the HTTP API, the staff pages and the event consumers."""
