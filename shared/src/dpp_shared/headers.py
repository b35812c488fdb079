"""Names of the Kafka headers dpp-events adds beside the CloudEvents `ce_*` ones.

The worker writes them on retry copies and dead letters; operators' tools read them. One copy here
so the reader never drifts from the writer.
"""

HEADER_PREFIX = "dpp-"
ERROR = "dpp-error"
ERROR_TYPE = "dpp-error-type"
RETRIABLE = "dpp-retriable"
ATTEMPT = "dpp-attempt"
ORIGINAL_TOPIC = "dpp-original-topic"
ORIGINAL_PARTITION = "dpp-original-partition"
ORIGINAL_OFFSET = "dpp-original-offset"
FAILED_AT = "dpp-failed-at"
NOT_BEFORE = "dpp-not-before"
REPLAY_OF = "dpp-replay-of"
PUBLISHER = "ce_dpppublisher"
"""CloudEvents extension `dpppublisher` in the Kafka binary binding: the `sub` of the token that
published the event. The producer API sets it on every record; the worker stores it as the job's
owner (see docs/contracts.md)."""
