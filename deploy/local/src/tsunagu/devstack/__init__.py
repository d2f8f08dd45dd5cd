"""The local launcher: a real Kafka broker and PostgreSQL on this machine, and the dev stack."""
