"""Event contracts: the envelope, the topic registry, the domain codes and one module per producer."""
