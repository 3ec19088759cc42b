"""Data generators for tests, benchmarks and the bundled sample data (not runtime code)."""
