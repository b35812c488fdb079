"""Contracts of dpp-events: event envelope, event types, topics, routing, Kafka/MSK settings, job store and the client for backend Lambdas."""
