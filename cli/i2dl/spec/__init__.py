"""Problem specs: schema, loading, sampling and instances."""
