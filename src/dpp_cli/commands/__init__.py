"""Sub-commands of `dpp`, one module per command group."""
