"""HTTP ingest API (FastAPI, server and AWS Lambda) that validates, routes and durably produces events to Kafka."""
