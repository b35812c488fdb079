"""Dispatch of a unit: one pass over each record's headers serves routing, retry history,
decoding and the job's owner; a unit's events are decoded together and a poison record is
rejected alone, with the error decoding it by itself gives."""

from __future__ import annotations

from collections.abc import Sequence

from dpp_consumer.dispatch import delivery_of, dispatch
from dpp_consumer.jobs import default_jobs
from dpp_consumer.records import ConsumedRecord
from dpp_shared import headers as hdr
from dpp_shared.codec import decode, encode
from dpp_shared.envelope import EventEnvelope
from dpp_shared.errors import EventDecodeError
from dpp_shared.events import REGISTRY

ECHO = "demo.echo.requested.v1"
RawHeaders = list[tuple[str, bytes | None]]


def _echo(index: int, *extra: tuple[str, bytes | None]) -> tuple[bytes, RawHeaders]:
    event_type = REGISTRY.get(ECHO)
    payload = event_type.payload.model_validate({"session_id": "s-1", "message": f"m-{index}"})
    envelope = EventEnvelope(
        source="/tests/dispatch", type=ECHO, data=payload.model_dump(mode="json")
    )
    record = encode(envelope, payload, event_type)
    return record.value, [*record.headers, *extra]


def _records(items: Sequence[tuple[bytes | None, RawHeaders]]) -> list[ConsumedRecord]:
    return [
        ConsumedRecord("demo", 0, offset, key=b"s-1", value=value, headers=headers)
        for offset, (value, headers) in enumerate(items)
    ]


def test_a_poison_record_is_rejected_alone_and_its_neighbours_run() -> None:
    good = [_echo(index) for index in range(6)]
    schema_error = (b'{"session_id": "s-1"}', good[0][1])
    not_json = (b"\xff\xfe not json", _echo(9)[1])
    bad_header = (good[1][0], [(n, b"\xc3\x28" if n == "ce_time" else v) for n, v in good[1][1]])
    items = [good[0], schema_error, good[2], not_json, good[3], bad_header, good[4], good[5]]
    records = _records(items)

    jobs, rejected = dispatch(records, default_jobs(), REGISTRY)

    assert [job.message.offset for job in jobs] == [0, 2, 4, 6, 7]
    assert [job.event.payload.model_dump()["message"] for job in jobs] == [
        "m-0", "m-2", "m-3", "m-4", "m-5",
    ]  # fmt: skip
    assert [item.message.offset for item in rejected] == [1, 3, 5]
    for item in rejected:
        try:
            decode(item.message.value, item.message.headers, REGISTRY)
        except EventDecodeError as alone:
            assert item.error.reason == alone.reason
        else:
            raise AssertionError(f"record {item.message.offset} decodes alone")
    assert "message" in rejected[0].error.reason
    assert "not JSON" in rejected[1].error.reason
    assert "'ce_time' is not UTF-8" in rejected[2].error.reason


def test_one_header_pass_serves_every_reader_with_the_last_non_null_value() -> None:
    value, headers = _echo(0, (hdr.PUBLISHER, b"first"), (hdr.PUBLISHER, b"owner"))
    headers += [(hdr.PUBLISHER, None)]
    record, odd = _records([(value, headers), (value, [*headers, ("x-odd", b"\xff")])])

    assert record.attributes[hdr.PUBLISHER] == b"owner"
    assert record.header(hdr.PUBLISHER) == "owner"
    assert odd.header("x-odd") == "\ufffd"  # readers never fail on odd bytes (decoding does)
    assert record.header("x-missing") is None
    assert record.event_type == ECHO
    assert record.headers == headers  # the list as consumed, for retry copies
    [job], [rejected] = dispatch([record, odd], default_jobs(), REGISTRY)
    assert "'x-odd' is not UTF-8" in rejected.error.reason
    assert job.start().owner == "owner"
    assert job.start().job_id == job.job_id == record.header("ce_id")


def test_retry_history_is_read_only_from_the_headers_that_carry_it() -> None:
    value, headers = _echo(0)
    first, replayed, retried, mangled = _records(
        [
            (value, headers),
            (value, [*headers, (hdr.REPLAY_OF, b"dlq:0:7"), (hdr.ERROR, b"boom")]),
            (
                value,
                [
                    *headers,
                    (hdr.ATTEMPT, b"1"),
                    (hdr.ATTEMPT, b"3"),
                    (hdr.ORIGINAL_TOPIC, b"demo"),
                    (hdr.ORIGINAL_PARTITION, b"2"),
                    (hdr.ORIGINAL_OFFSET, b"41"),
                ],
            ),
            (value, [*headers, (hdr.ATTEMPT, b"\xff")]),
        ]
    )
    for record in (first, replayed):  # dpp-* headers that are no retry history
        delivery = delivery_of(record)
        assert (delivery.attempt, delivery.original_offset) == (1, record.offset)
        assert (delivery.original_topic, delivery.not_before) == ("demo", None)
    later = delivery_of(retried)
    assert (later.attempt, later.original_partition, later.original_offset) == (3, 2, 41)
    assert delivery_of(mangled).attempt == 1  # unreadable history: a first delivery
