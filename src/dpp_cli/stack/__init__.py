"""The local stack: the sandbox broker plus producer and worker processes, supervised together."""
