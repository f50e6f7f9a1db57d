"""Settings, persistence wiring, clocks and the composition root."""
