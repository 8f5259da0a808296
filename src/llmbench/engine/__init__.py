"""The engine: scheduling tests, retries, progress and cancellation."""
