"""The HTTP API: routes, dependencies, problem responses and request-body handling."""
