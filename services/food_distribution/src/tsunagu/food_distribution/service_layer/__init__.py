"""Handlers of food distribution: one function per event or command, each given a session."""
