"""Kafka consumer-group workers that run the platform's AI/ML jobs at least once without duplicate results."""
