"""Storage for food distribution: the service's tables in its own PostgreSQL schema."""
