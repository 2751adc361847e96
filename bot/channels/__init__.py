"""Channels translate a wire format to UserMessage and send Reply text and buttons back."""
