"""Local stub servers that speak real provider wire protocols, for tests and benchmarks."""
