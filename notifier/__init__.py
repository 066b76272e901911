"""Push delivery: builds messages, sends them through a channel, records outcomes."""
