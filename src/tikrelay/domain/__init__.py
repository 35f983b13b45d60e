"""Pure domain model: posts, sources, destinations, deliveries, jobs and the error taxonomy."""
