"""Event ids the API issues: scoped to the publishing subject and signed, so that the jobs route
can tell, without any stored state, that it accepted an id for this caller.

Every accepted event leaves the API with an id of the form ``<uuid>.<tag>``, and that id is also
its job id (the worker keys the job store by event id):

- ``<uuid>`` is a fresh UUIDv7 when the event came without an id (or the name-based UUID of
  (subject, Idempotency-Key, body) when the request has a key), and the name-based UUID of
  (subject, client id) when the client chose its own ``id``. Two subjects posting the same
  client id therefore get two different jobs; the same subject posting it again gets the same
  job (its retry is deduplicated by the job store).
- ``<tag>`` is HMAC-SHA256(key, subject, uuid), 96 bits in unpadded base64url, for every uuid
  that is derived (from a client id or an Idempotency-Key): a retry must get the very same id,
  across releases too. A fresh UUIDv7 is never derived again, so its tag is the cheaper keyed
  BLAKE2s(key, subject, uuid) (a fifth of the cost, per event of a batch); both verify. Only the
  API holds the key, so a tag that verifies for the caller's subject proves that the API issued
  this id to this caller, and that it was answered 202 (ids are only ever shown in a 202).

Ids are at most 53 characters, inside the job store's 64.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

from dpp_shared import headers as hdr
from dpp_shared.codec import KafkaRecord
from dpp_shared.ids import new_id, new_ids

TAG_BYTES = 12
TAG_LENGTH = 16  # base64url of 12 bytes, no padding
SEPARATOR = "."
PUBLISHER_HEADER = hdr.PUBLISHER
"""Set by the API on every record from the token, never taken from the request."""
_CLIENT_ID_NAMESPACE = uuid.UUID("0c6a3c1e-7d1b-4d8e-9a55-3f0e2b7c9d14")
_KEY_LABEL = b"dpp-event-ids-v1"
# Keeps the fresh ids' BLAKE2s tags apart from any other use of the key.
_TAG_PERSON = b"dpp-id-2"


def derive_key(secret: str) -> bytes:
    """A key for event ids derived from another secret (the HS256 token secret), so that a
    deployment needs no second secret; the label keeps the two uses apart."""
    return hmac.new(secret.encode(), _KEY_LABEL, hashlib.sha256).digest()


class EventIds:
    """Issues and recognises the API's event ids with one key, shared by every process."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the event id key needs at least 16 bytes")
        # Keyed once; each tag copies the keyed state (saves re-keying: a third of the cost).
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)
        # BLAKE2s takes at most 32 key bytes: its key is derived (and so kept apart) from `key`.
        fresh_key = hmac.new(key, _TAG_PERSON, hashlib.sha256).digest()
        self._fresh = hashlib.blake2s(key=fresh_key, digest_size=TAG_BYTES, person=_TAG_PERSON)

    def _tag(self, subject: str, base: str) -> str:
        mac = self._keyed.copy()
        mac.update(f"{subject}\n{base}".encode())
        return base64.urlsafe_b64encode(mac.digest()[:TAG_BYTES]).decode()  # 12 bytes: no "="

    def _fresh_tag(self, subject: str, base: str) -> str:
        mac = self._fresh.copy()
        mac.update(f"{subject}\n{base}".encode())
        return base64.urlsafe_b64encode(mac.digest()).decode()

    def sign(self, subject: str, base: str) -> str:
        """`base` (derived: the same base must get the same id) tagged for `subject`."""
        return f"{base}{SEPARATOR}{self._tag(subject, base)}"

    def issue(self, subject: str, count: int) -> list[str]:
        """`count` fresh signed ids for `subject` (a batch's events sent without an id): one
        `new_ids` call and one base64 pass for all of them."""
        if count == 1:  # a single event: no batch set-up
            base = new_id()
            return [f"{base}{SEPARATOR}{self._fresh_tag(subject, base)}"]
        bases = new_ids(count)
        keyed = self._fresh
        prefix = f"{subject}\n".encode()
        digests = []
        for base in bases:
            mac = keyed.copy()
            mac.update(prefix + base.encode())
            digests.append(mac.digest())
        # 12-byte tags are whole base64 quanta: the joined text splits into 16-character tags.
        tags = base64.urlsafe_b64encode(b"".join(digests)).decode()
        return [
            f"{base}{SEPARATOR}{tags[at : at + TAG_LENGTH]}"
            for base, at in zip(bases, range(0, TAG_LENGTH * count, TAG_LENGTH), strict=True)
        ]

    def issued_to(self, subject: str, event_id: str) -> bool:
        """True if the API issued `event_id` to `subject`: a derived or a fresh id (constant-time
        tag comparisons)."""
        base, separator, tag = event_id.rpartition(SEPARATOR)
        if not separator or not base or len(tag) != TAG_LENGTH:
            return False
        return hmac.compare_digest(tag, self._tag(subject, base)) or hmac.compare_digest(
            tag, self._fresh_tag(subject, base)
        )

    def scoped(self, subject: str, client_id: str) -> str:
        """The id of an event whose client chose `client_id`: unique per subject."""
        return self.sign(subject, str(uuid.uuid5(_CLIENT_ID_NAMESPACE, f"{subject}\n{client_id}")))

    def assign(self, subject: str, requested: object, default_base: str | None) -> object:
        """The id an event gets. `requested` is the event's own `id` field (None if absent);
        anything but a non-empty string is returned unchanged for the envelope check to refuse.
        An id this API already issued to `subject` is kept (a resend of an accepted event)."""
        if requested is None:
            if default_base is None:
                return self.issue(subject, 1)[0]
            return self.sign(subject, default_base)
        if not isinstance(requested, str) or not requested:
            return requested
        if self.issued_to(subject, requested):
            return requested
        return self.scoped(subject, requested)


def stamp_publisher(record: KafkaRecord, subject: str) -> KafkaRecord:
    """Add the `ce_dpppublisher` header (the worker stores it as the job's owner)."""
    record.headers.append((PUBLISHER_HEADER, subject.encode()))
    return record
