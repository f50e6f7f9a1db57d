"""Applications (one per bounded context), command handlers and queries."""
