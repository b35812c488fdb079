"""The CloudEvents Kafka binding: round trips, every kind of bad record, a fuzzed decode, and the
batch decode (`decode_many`) answering exactly what `decode` answers record by record."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpp_shared.codec import DecodedEvent, RecordHeaders, decode, decode_many, encode
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


# -- decode_many: one validation call per event type, the same answers as decode ----------------


def _alone(value: bytes | None, headers: RecordHeaders) -> DecodedEvent | EventDecodeError:
    try:
        return decode(value, headers, REGISTRY)
    except EventDecodeError as error:
        return error


def _same(batched: DecodedEvent | EventDecodeError, alone: DecodedEvent | EventDecodeError) -> None:
    if isinstance(alone, EventDecodeError):
        assert isinstance(batched, EventDecodeError), f"{batched!r} decoded; alone: {alone}"
        assert (batched.reason, batched.event_type) == (alone.reason, alone.event_type)
    else:
        assert isinstance(batched, DecodedEvent), f"{batched} failed; alone it decoded"
        assert batched == alone
        assert batched.event_type is alone.event_type


def _record_of(type_name: str, **attributes: Any) -> tuple[bytes, Headers]:
    envelope, payload = make_event(type_name, **attributes)
    record = encode(envelope, payload, REGISTRY.get(envelope.type))
    return record.value, list(record.headers)


def test_decode_many_isolates_every_kind_of_poison_record_among_good_ones() -> None:
    value, headers = _valid_record()
    batch: list[tuple[bytes | None, RecordHeaders]] = []
    for index, kind in enumerate(sorted(BAD_RECORDS)):
        batch.append(_record_of("demo.echo.requested.v1", correlationid=f"good-{index}"))
        batch.append(BAD_RECORDS[kind][0](value, headers))
    # Two event types in one batch (two validation groups), and a structured-mode record.
    batch.append(_record_of("persona.embedding.requested.v1", traceparent=TRACEPARENT))
    envelope, payload = make_event("demo.echo.requested.v1")
    structured = envelope.model_copy(update={"data": payload.model_dump(mode="json")})
    batch.append(
        (
            structured.model_dump_json().encode(),
            [("content-type", b"application/cloudevents+json")],
        )
    )

    results = decode_many(batch, REGISTRY)

    assert len(results) == len(batch)
    for (record_value, record_headers), result in zip(batch, results, strict=True):
        _same(result, _alone(record_value, record_headers))
    good = [r for r in results if isinstance(r, DecodedEvent)]
    assert len(good) == len(BAD_RECORDS) + 2
    assert [r.envelope.correlationid for r in good[: len(BAD_RECORDS)]] == [
        f"good-{index}" for index in range(len(BAD_RECORDS))
    ]
    bad = [r for r in results if isinstance(r, EventDecodeError)]
    assert len(bad) == len(BAD_RECORDS)
    for (kind, (_mutate, reason)), error in zip(sorted(BAD_RECORDS.items()), bad, strict=True):
        assert reason in error.reason, kind


def test_decode_many_of_a_clean_batch_and_of_nothing() -> None:
    batch = [_record_of("demo.echo.requested.v1", correlationid=f"c-{i}") for i in range(50)]
    results = decode_many(batch, REGISTRY)
    assert [r.envelope.correlationid for r in results if isinstance(r, DecodedEvent)] == [
        f"c-{i}" for i in range(50)
    ]
    assert decode_many([], REGISTRY) == []


def test_decode_many_reads_repeated_missing_and_non_utf8_headers_as_decode_does() -> None:
    value, headers = _valid_record()
    cases: list[tuple[bytes | None, RecordHeaders]] = [
        # Repeated: the last value wins, and a later null does not erase an earlier value.
        (value, [*headers, ("ce_source", b"/second"), ("ce_source", None)]),
        (value, [*_replace(headers, "ce_type", b"no.such.v1"), ("ce_type", headers[3][1])]),
        (value, [*headers, ("ce_type", b"no.such.v1")]),
        # Missing, null, and not UTF-8 (the value of a header the event needs, or of any other).
        (value, _without(headers, "ce_source")),
        (value, _replace(headers, "ce_source", None)),
        (value, _replace(headers, "ce_source", b"\xc3\x28")),
        (value, [*headers, ("x-other", b"\xff")]),
        # The worker's one-pass map of the same headers (name -> last non-null bytes).
        (value, {name: raw for name, raw in headers if raw is not None}),
        (value, {**dict(headers), "ce_id": b"\xff"}),
    ]
    results = decode_many(cases, REGISTRY)
    for (case_value, case_headers), result in zip(cases, results, strict=True):
        _same(result, _alone(case_value, case_headers))
    first, second, third = results[:3]
    assert isinstance(first, DecodedEvent) and first.envelope.source == "/second"
    assert isinstance(second, DecodedEvent)
    assert isinstance(third, EventDecodeError) and "no.such.v1" in third.reason
    assert all(isinstance(r, EventDecodeError) for r in results[3:7])
    assert isinstance(results[7], DecodedEvent) and isinstance(results[8], EventDecodeError)


@settings(max_examples=150, deadline=None)
@given(
    picks=st.lists(
        st.one_of(
            st.just(None),
            st.tuples(_values, st.lists(st.tuples(_header_names, _header_values), max_size=12)),
        ),
        max_size=8,
    )
)
def test_decode_many_answers_what_decode_answers_for_any_records(
    picks: list[tuple[bytes | None, Headers] | None],
) -> None:
    batch = [_valid_record() if pick is None else pick for pick in picks]
    results = decode_many(batch, REGISTRY)
    assert len(results) == len(batch)
    for (value, headers), result in zip(batch, results, strict=True):
        _same(result, _alone(value, headers))
