"""The HTTP API and the notice lifecycle. Calls `geo` directly and `notifier` by task name."""
