"""Event ids keep verifying across the change of tag for fresh ids: derived ids (client ids,
Idempotency-Key defaults) keep their HMAC-SHA256 tags byte for byte, fresh ids carry keyed
BLAKE2s tags, and both kinds, old and new, verify for their subject only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import uuid

from dpp_producer.event_ids import TAG_BYTES, EventIds, derive_key
from dpp_shared.ids import new_id
from tests.producer import factories

KEY = derive_key("a test secret of some length")


def _hmac_tag(key: bytes, subject: str, base: str) -> str:
    """The tag every id carried before fresh ids moved to BLAKE2s (the documented form)."""
    digest = hmac.new(key, f"{subject}\n{base}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:TAG_BYTES]).decode().rstrip("=")


def test_derived_ids_keep_their_hmac_tags() -> None:
    # A retry of an event with its own id (or with an Idempotency-Key) must get the id it got
    # before this release, or the job store would not dedupe it.
    ids = EventIds(KEY)
    base = str(uuid.uuid5(uuid.UUID("0c6a3c1e-7d1b-4d8e-9a55-3f0e2b7c9d14"), "alice\norder-1"))
    assert ids.scoped("alice", "order-1") == f"{base}.{_hmac_tag(KEY, 'alice', base)}"
    assert ids.assign("alice", None, base) == f"{base}.{_hmac_tag(KEY, 'alice', base)}"


def test_fresh_ids_issued_before_still_verify() -> None:
    ids = EventIds(KEY)
    base = new_id()
    earlier = f"{base}.{_hmac_tag(KEY, 'alice', base)}"  # a fresh id as the last release made it
    assert ids.issued_to("alice", earlier)
    assert not ids.issued_to("bob", earlier)
    assert ids.assign("alice", earlier, None) == earlier


def test_fresh_ids_carry_a_tag_that_verifies_for_their_subject_only() -> None:
    ids = EventIds(KEY)
    issued = ids.issue("alice", 600)
    assert len(set(issued)) == 600
    for event_id in issued[:50] + issued[-50:]:
        base, _, tag = event_id.rpartition(".")
        assert str(uuid.UUID(base)) == base and uuid.UUID(base).version == 7
        assert len(event_id) <= 53 and len(tag) == 16
        assert tag != _hmac_tag(KEY, "alice", base)  # the cheaper tag, not the derived ids' one
        assert ids.issued_to("alice", event_id)
        assert not ids.issued_to("bob", event_id)
        assert not EventIds(derive_key("another secret")).issued_to("alice", event_id)
    # A tampered uuid does not verify with either tag.
    base, _, tag = issued[0].rpartition(".")
    assert not ids.issued_to("alice", f"{base[:-1]}{'0' if base[-1] != '0' else '1'}.{tag}")
    # Ids of one batch keep the time order of UUIDv7s.
    assert all(a < b for a, b in itertools.pairwise(event_id[:36] for event_id in issued))
    assert ids.issue("alice", 0) == []


def test_an_event_sent_without_an_id_gets_a_fresh_one_that_verifies() -> None:
    ids = factories.event_ids()
    first, second = ids.assign("alice", None, None), ids.assign("alice", None, None)
    assert isinstance(first, str) and isinstance(second, str) and first != second
    assert ids.issued_to("alice", first) and ids.issued_to("alice", second)


def test_any_key_length_from_sixteen_bytes_works() -> None:
    long_key = EventIds(b"a key much longer than the thirty-two bytes BLAKE2s takes")
    (event_id,) = long_key.issue("alice", 1)
    assert long_key.issued_to("alice", event_id)
