"""The CloudEvents Kafka binding: round trips, every kind of bad record, and a fuzzed decode."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpp_shared.codec import decode, encode
from dpp_shared.errors import EventDecodeError
from dpp_shared.events import REGISTRY
from dpp_shared.topics import TopicNamespace
from tests.shared.factories import SAMPLE_DATA, TRACEPARENT, make_event

Headers = list[tuple[str, bytes | None]]


def _valid_record() -> tuple[bytes, Headers]:
    envelope, payload = make_event("demo.echo.requested.v1", traceparent=TRACEPARENT)
    record = encode(envelope, payload, REGISTRY.get(envelope.type))
    return record.value, list(record.headers)


@pytest.mark.parametrize("type_name", sorted(SAMPLE_DATA))
def test_round_trip_of_every_catalog_type(type_name: str) -> None:
    envelope, payload = make_event(
        type_name,
        subject="persona/p-1",
        dataschema=REGISTRY.get(type_name).dataschema,
        correlationid="corr-1",
        idempotencykey="idem-1",
        traceparent=TRACEPARENT,
    )
    event_type = REGISTRY.get(type_name)
    record = encode(envelope, payload, event_type, TopicNamespace("t-abc."))

    assert record.topic == f"t-abc.{event_type.topic}"
    assert record.key == SAMPLE_DATA[type_name][event_type.key_field].encode()
    assert json.loads(record.value) == payload.model_dump(mode="json")
    decoded = decode(record.value, record.headers, REGISTRY)
    assert decoded.envelope == envelope
    assert decoded.payload == payload
    assert decoded.event_type is event_type


def test_binary_mode_headers_follow_the_binding() -> None:
    envelope, payload = make_event("demo.echo.requested.v1", traceparent=TRACEPARENT)
    record = encode(envelope, payload, REGISTRY.get(envelope.type))
    headers = dict(record.headers)
    assert headers == {
        "ce_specversion": b"1.0",
        "ce_id": envelope.id.encode(),
        "ce_source": b"/tests/contracts",
        "ce_type": b"demo.echo.requested.v1",
        "ce_time": b"2026-01-02T03:04:05.678000Z",
        "content-type": b"application/json",
        "traceparent": TRACEPARENT.encode(),
    }
    # Attribute names are lower-case ASCII after the ce_ prefix, values UTF-8 text.
    assert all(name == name.lower() for name in headers)
    assert record.key == b"s-1"


def test_structured_mode_is_decoded_too() -> None:
    envelope, payload = make_event("demo.echo.requested.v1", correlationid="c-9")
    value = envelope.model_dump_json().encode()
    headers: Headers = [
        ("content-type", b"application/cloudevents+json; charset=UTF-8"),
        ("traceparent", TRACEPARENT.encode()),
    ]
    decoded = decode(value, headers, REGISTRY)
    assert decoded.envelope == envelope.model_copy(update={"traceparent": TRACEPARENT})
    assert decoded.payload == payload


def test_content_type_with_parameters_is_accepted() -> None:
    value, headers = _valid_record()
    headers = [
        (n, b"application/json; charset=utf-8" if n == "content-type" else v) for n, v in headers
    ]
    assert decode(value, headers, REGISTRY).envelope.type == "demo.echo.requested.v1"


def _without(headers: Headers, name: str) -> Headers:
    return [(n, v) for n, v in headers if n != name]


def _replace(headers: Headers, name: str, value: bytes | None) -> Headers:
    return [(n, value if n == name else v) for n, v in headers]


BAD_RECORDS: dict[str, tuple[Any, str]] = {
    "not JSON": (lambda v, h: (b"{not json", h), "value is not JSON"),
    "not UTF-8": (lambda v, h: (b"\xff\xfe\x00", h), "value is not JSON"),
    "NaN is not JSON": (
        lambda v, h: (b'{"session_id": "s", "message": NaN}', h),
        "value is not JSON",
    ),
    "deeply nested": (lambda v, h: (b"[" * 100_000, h), "value is not JSON"),
    "not an object": (lambda v, h: (b'["a", "b"]', h), "not a JSON object"),
    "a JSON string": (lambda v, h: (b'"hello"', h), "not a JSON object"),
    "no headers at all": (lambda v, h: (v, None), "missing CloudEvents headers: ce_specversion"),
    "missing ce_id": (lambda v, h: (v, _without(h, "ce_id")), "missing CloudEvents headers: ce_id"),
    "missing ce_time": (lambda v, h: (v, _without(h, "ce_time")), "ce_time"),
    "non-UTF-8 header": (
        lambda v, h: (v, _replace(h, "ce_source", b"\xc3\x28")),
        "header 'ce_source' is not UTF-8",
    ),
    "unknown type": (
        lambda v, h: (v, _replace(h, "ce_type", b"persona.deleted.v9")),
        "unknown event type 'persona.deleted.v9'",
    ),
    "payload fails validation": (
        lambda v, h: (b'{"session_id": "", "message": "hi"}', h),
        "data.session_id",
    ),
    "unexpected payload field": (
        lambda v, h: (b'{"session_id": "s", "message": "hi", "extra": 1}', h),
        "data.extra",
    ),
    "tombstone": (lambda v, h: (None, h), "tombstone"),
    "wrong specversion": (lambda v, h: (v, _replace(h, "ce_specversion", b"0.3")), "specversion"),
    "time without zone": (
        lambda v, h: (v, _replace(h, "ce_time", b"2026-01-01T00:00:00")),
        "timezone",
    ),
    "time not a time": (lambda v, h: (v, _replace(h, "ce_time", b"yesterday")), "invalid event"),
    "bad traceparent": (lambda v, h: (v, _replace(h, "traceparent", b"00-xyz")), "traceparent"),
    "other content-type": (
        lambda v, h: (v, _replace(h, "content-type", b"application/avro")),
        "content-type 'application/avro' is not application/json",
    ),
    "unsupported structured format": (
        lambda v, h: (v, _replace(h, "content-type", b"application/cloudevents+avro")),
        "unsupported CloudEvents event format",
    ),
    "structured without attributes": (
        lambda v, h: (b'{"data": {}}', [("content-type", b"application/cloudevents+json")]),
        "structured event lacks attributes",
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD_RECORDS))
def test_every_kind_of_bad_record_raises_event_decode_error(kind: str) -> None:
    mutate, reason = BAD_RECORDS[kind]
    value, headers = _valid_record()
    bad_value, bad_headers = mutate(value, headers)
    with pytest.raises(EventDecodeError) as caught:
        decode(bad_value, bad_headers, REGISTRY)
    assert reason in caught.value.reason
    assert str(caught.value) == caught.value.reason
    assert caught.value.reason.count("invalid event") <= 1, "the prefix is said once"


def test_decode_error_names_the_type_when_known() -> None:
    _, headers = _valid_record()
    with pytest.raises(EventDecodeError) as caught:
        decode(b"[]", headers, REGISTRY)
    assert caught.value.event_type == "demo.echo.requested.v1"


def test_a_none_header_value_counts_as_absent() -> None:
    value, headers = _valid_record()
    with pytest.raises(EventDecodeError, match="ce_source"):
        decode(value, _replace(headers, "ce_source", None), REGISTRY)


_header_names = st.text(max_size=20) | st.sampled_from(
    [
        "ce_specversion",
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_time",
        "content-type",
        "traceparent",
        "ce_subject",
        "ce_correlationid",
        "x-other",
    ]
)
_header_values = st.one_of(
    st.none(),
    st.binary(max_size=64),
    st.sampled_from(
        [
            b"1.0",
            b"demo.echo.requested.v1",
            b"2026-01-01T00:00:00Z",
            b"application/json",
            b"application/cloudevents+json",
            TRACEPARENT.encode(),
        ]
    ),
)
_json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
_values = st.one_of(
    st.none(),
    st.binary(max_size=256),
    _json_like.map(lambda obj: json.dumps(obj).encode()),
)


@settings(max_examples=400, deadline=None)
@given(value=_values, headers=st.lists(st.tuples(_header_names, _header_values), max_size=12))
def test_decode_never_raises_anything_but_event_decode_error(
    value: bytes | None, headers: Headers
) -> None:
    try:
        decoded = decode(value, headers, REGISTRY)
    except EventDecodeError as error:
        assert error.reason
    else:
        assert decoded.envelope.type in REGISTRY


@settings(max_examples=200, deadline=None)
@given(data=_json_like)
def test_decode_of_any_json_value_with_valid_headers_fails_cleanly_or_validates(data: Any) -> None:
    _, headers = _valid_record()
    value = json.dumps({"session_id": "s", "message": data}).encode()
    try:
        decoded = decode(value, headers, REGISTRY)
    except EventDecodeError as error:
        assert "invalid event" in error.reason or "not JSON" in error.reason
    else:
        assert decoded.payload.model_dump()["message"] == data


def test_headers_may_be_a_mapping_or_already_text() -> None:
    value, headers = _valid_record()
    as_mapping = dict(headers)
    as_text = [(name, raw.decode() if raw is not None else None) for name, raw in headers]
    first = decode(value, as_mapping, REGISTRY)
    second = decode(value, as_text, REGISTRY)
    assert first.envelope == second.envelope == decode(value, headers, REGISTRY).envelope
