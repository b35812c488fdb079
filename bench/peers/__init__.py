"""Processes the consume scenario measures side by side: a raw confluent-kafka loop, the dpp
worker (with or without the durable job store) and FastStream, each its own process."""
