"""Benchmarks of dpp-events against raw confluent-kafka and peers (see docs/performance.md)."""
