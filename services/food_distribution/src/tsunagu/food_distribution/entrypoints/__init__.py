"""How the outside reaches food distribution: HTTP (API and desk pages) and Kafka consumers."""
