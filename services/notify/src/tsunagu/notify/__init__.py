"""Notify: messages to staff and residents, by their chosen channels, exactly once, never at night."""

from tsunagu.shared.services import Service

#: How this service registers itself with the platform (entry point ``tsunagu.services``).
SERVICE = Service(name="notify", package="tsunagu.notify", port=8002)
