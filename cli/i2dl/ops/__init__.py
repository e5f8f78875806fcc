"""Operation records: what the rest of the package needs to know about an operation, in one place."""
