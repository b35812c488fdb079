"""Exception hierarchy of the ML layer, each error carrying the context a worker needs to log."""

from __future__ import annotations

from dpp_consumer.errors import ConsumerError


class MLError(ConsumerError):
    """Root of every error raised by ``dpp_consumer.ml``."""


class ModelFilesMissingError(MLError):
    """A model file that should ship inside an installed package is not there."""

    def __init__(self, path: str) -> None:
        super().__init__(f"model file not found: {path} (is the model package installed?)")
        self.path = path


class BatchCancelledError(MLError):
    """A batch job stopped between chunks because its cancellation callable said so.

    Everything up to ``done`` is checkpointed, so the job can be resumed later.
    """

    def __init__(self, done: int, total: int) -> None:
        super().__init__(f"job cancelled after {done}/{total} items (progress checkpointed)")
        self.done = done
        self.total = total
