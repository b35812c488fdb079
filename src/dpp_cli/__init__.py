"""The `dpp` command line: sandbox, topics, services, demo and operator tools."""
