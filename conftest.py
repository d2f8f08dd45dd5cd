"""Fixtures for every test in the repository: real Kafka and PostgreSQL (tsunagu.devstack)."""

pytest_plugins = ["tsunagu.devstack.pytest_plugin"]
