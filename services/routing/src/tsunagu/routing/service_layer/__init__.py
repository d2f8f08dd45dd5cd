"""Routing's handlers: what happens on each event, command and scan, given a session."""
