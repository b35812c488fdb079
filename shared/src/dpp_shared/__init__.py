"""Contracts of dpp-events, shared by the producer and the consumer.

Event envelope, event types, topics, routing, Kafka/MSK settings, job store, lag engine and the
client for backend Lambdas.
"""
