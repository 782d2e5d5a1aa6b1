"""A simulated deAPI service: a real HTTP server on 127.0.0.1 for tests, benchmarks and the demo."""
