"""Notify's adapters: the channels messages leave by."""
