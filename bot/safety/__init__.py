"""The safety layer: runs before intent routing and is biased to recall."""
