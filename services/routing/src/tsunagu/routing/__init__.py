"""Routing: rules that refer each case to every programme it needs, and follow each referral."""

from tsunagu.shared.services import Service

#: How this service registers itself with the platform (entry point ``tsunagu.services``).
SERVICE = Service(name="routing", package="tsunagu.routing", port=8001)
