"""The channel-agnostic dialogue core: a child's text or button press in, replies out."""
