"""Intake: the staff web UI and API where residents are taken in."""

from tsunagu.shared.services import Service

#: How this service registers itself with the platform (entry point ``tsunagu.services``).
SERVICE = Service(name="intake", package="tsunagu.intake", port=8000)
