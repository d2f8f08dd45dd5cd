"""Notify's handlers and jobs: scheduling deliveries from events, sending them, importing lists."""
