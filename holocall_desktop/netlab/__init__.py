"""Emulated networks for tests and benchmarks: namespaces joined by a shaped link (root only)."""
