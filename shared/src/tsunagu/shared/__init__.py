"""Tsunagu shared: contracts, topics, settings, logging, broker and database wiring, outbox and inbox."""
