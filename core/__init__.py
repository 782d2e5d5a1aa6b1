"""The engine: batch input, deAPI client, rate limiter, sessions and outputs. Never imports a UI."""
