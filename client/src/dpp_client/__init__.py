"""The client backend Lambdas use to publish events to the producer API (stdlib only, fast import).

    from dpp_client import EventsClient
    client = EventsClient.from_env()
    client.publish("persona.embedding.requested.v1", {"persona_id": "p-1", "texts": ["hi"]})

Importing it must not import pydantic or confluent_kafka (tests/client/test_client_import.py).
"""

from dpp_client.errors import (
    AuthenticationError,
    BadRequestError,
    ClientConfigurationError,
    ClientError,
    ConflictError,
    EventRejectedError,
    ForbiddenError,
    PayloadTooLargeError,
    ProblemError,
    PublishUnavailableError,
    ServerError,
)
from dpp_client.events import BatchResult, Event, PublishResult, RejectedEvent
from dpp_client.publisher import EventsClient
from dpp_client.retry import RETRYABLE_STATUSES, RetryPolicy

__all__ = [
    "RETRYABLE_STATUSES",
    "AuthenticationError",
    "BadRequestError",
    "BatchResult",
    "ClientConfigurationError",
    "ClientError",
    "ConflictError",
    "Event",
    "EventRejectedError",
    "EventsClient",
    "ForbiddenError",
    "PayloadTooLargeError",
    "ProblemError",
    "PublishResult",
    "PublishUnavailableError",
    "RejectedEvent",
    "RetryPolicy",
    "ServerError",
]
