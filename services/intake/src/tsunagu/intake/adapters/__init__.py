"""Intake's adapters: tables, password hashing, the routing preview client."""
