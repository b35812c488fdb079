"""HTTP ingest API (FastAPI, server and Lambda): validates, routes and durably produces events."""
