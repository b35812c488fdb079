"""Route modules of the producer API, one `router` each."""
