"""Notify: messages to staff and residents, by their chosen channels, exactly once, never at night."""
