"""An open-loop HTTP/1.1 load generator (run as its own process): requests start on a fixed
schedule whatever the server does, and latency counts from the scheduled start, so a stalled
server cannot hide its queueing delay (no coordinated omission). Raw asyncio streams with
keep-alive keep the generator itself cheap.

`python -m bench.loadgen --url URL --rate R --duration S --connections C --body-file F
 [--header 'Name: value']... [--fresh-ids]` prints one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dpp_shared.ids import new_id


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return status, body


class _Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, payload: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(payload)
        await self.writer.drain()
        return await _read_response(self.reader)


def _request_bytes(method: str, path: str, host: str, headers: list[str], body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += headers
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def run(
    url: str,
    *,
    rate: float,
    duration_s: float,
    connections: int,
    body: bytes,
    headers: list[str],
    fresh_ids: bool,
    method: str = "POST",
) -> dict[str, Any]:
    parts = urlsplit(url)
    host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/"
    document = json.loads(body) if fresh_ids else None
    idle: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(_Connection(host, port))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    accepted: list[tuple[str, float]] = []
    errors: list[str] = []
    interval = 1.0 / rate
    total = int(rate * duration_s)
    started = time.perf_counter()
    tasks: list[asyncio.Task[None]] = []

    async def one(scheduled: float) -> None:
        connection = await idle.get()
        event_id = None
        payload_body = body
        if document is not None:
            event_id = new_id()
            payload_body = json.dumps({**document, "id": event_id}).encode()
        try:
            status, _response = await connection.request(
                _request_bytes(method, path, f"{host}:{port}", headers, payload_body)
            )
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            errors.append(type(error).__name__)
            connection.writer = None
            idle.put_nowait(connection)
            return
        done = time.perf_counter()
        idle.put_nowait(connection)
        latencies.append(done - scheduled)
        statuses[status] = statuses.get(status, 0) + 1
        if event_id is not None and status == 202:
            # The API scopes a client-chosen id to the caller: the job id is the one it answers.
            answered_id = json.loads(_response or b"{}").get("id")
            accepted.append((str(answered_id or event_id), time.time()))

    for index in range(total):
        scheduled = started + index * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": total,
        "completed": len(latencies),
        "elapsed_s": elapsed,
        "achieved_rate": len(latencies) / elapsed if elapsed else 0.0,
        "statuses": {str(code): count for code, count in sorted(statuses.items())},
        "errors": len(errors),
        "latency_s": latencies,
        "accepted": accepted,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--body-file", type=Path, required=True)
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--fresh-ids", action="store_true")
    parser.add_argument("--method", default="POST", help="GET sends no body")
    args = parser.parse_args(argv)
    result = asyncio.run(
        run(
            args.url,
            rate=args.rate,
            duration_s=args.duration,
            connections=args.connections,
            body=b"" if args.method == "GET" else args.body_file.read_bytes(),
            headers=args.header,
            fresh_ids=args.fresh_ids,
            method=args.method,
        )
    )
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
