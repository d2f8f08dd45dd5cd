"""Notify's domain: who hears what, when, and what to do when a delivery fails. No I/O."""
