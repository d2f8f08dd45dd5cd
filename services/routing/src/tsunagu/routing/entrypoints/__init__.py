"""What drives routing: HTTP routes, event consumers and the deadline scanner."""
