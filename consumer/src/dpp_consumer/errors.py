"""Errors of the consumer: what a job may raise and how the worker treats each kind."""

from __future__ import annotations

from dpp_shared.errors import DppError


class ConsumerError(DppError):
    """Root of every error raised by dpp_consumer."""


class JobError(ConsumerError):
    """A job did not produce a result. Subclasses say whether trying again can help."""

    retriable: bool = True

    @property
    def error_type(self) -> str:
        return type(self).__name__


class RetriableJobError(JobError):
    """A transient failure (a timeout, a dependency down): the job goes to the next retry tier."""

    retriable = True


class PermanentJobError(JobError):
    """The request can never succeed (bad input, a schema error): straight to the dead letters."""

    retriable = False


class JobDeadlineExceededError(RetriableJobError):
    """The job ran past its deadline; a later attempt may be luckier."""


class JobCancelledError(ConsumerError):
    """The worker asked the job to stop (partition revoked, drain): it is neither failed nor
    finished, its offset stays uncommitted and the event is redelivered."""


class JobRegistrationError(ConsumerError):
    """A job declaration is invalid: unknown event type, or two handlers for one type."""
