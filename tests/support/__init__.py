"""Test support: tiny models, fixtures and servers shared by tests and benchmarks."""
