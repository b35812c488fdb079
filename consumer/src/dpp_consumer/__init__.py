"""Kafka consumer-group workers running the platform's AI/ML jobs: at least once, no duplicate
results."""
