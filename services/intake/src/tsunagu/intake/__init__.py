"""Intake: the staff web UI and API where residents are taken in."""
