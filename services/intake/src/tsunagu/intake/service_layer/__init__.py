"""Intake's handlers: one function per command or event, given a session inside a transaction."""
