"""The published-events feed: integration events for the systems around the ledger."""
