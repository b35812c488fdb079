"""`dpp demo`: post sample events to the producer and follow them to finished jobs."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dpp_cli.console import err, fail, out

if TYPE_CHECKING:
    from dpp_cli.stack.results import LifecycleEvent

TERMINAL = {"succeeded", "dead"}


def _sample_events(session: str) -> list[dict[str, Any]]:
    persona = f"demo-persona-{session[:8]}"
    return [
        {
            "type": "demo.echo.requested.v1",
            "source": "urn:dpp:demo",
            "data": {"session_id": session, "message": "hello from dpp demo"},
        },
        {
            "type": "persona.embedding.requested.v1",
            "source": "urn:dpp:demo",
            "data": {
                "persona_id": persona,
                "texts": ["I love hiking in the mountains.", "Quarterly revenue grew 12%."],
            },
        },
        {
            "type": "persona.tone.classification.requested.v1",
            "source": "urn:dpp:demo",
            "data": {
                "persona_id": persona,
                "texts": ["Wow, this is absolutely amazing!!", "Please find the report attached."],
            },
        },
    ]


def demo(
    url: Annotated[str, typer.Option(help="Producer API base URL.")] = "http://127.0.0.1:8080",
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the jobs.")] = 60.0,
) -> None:
    """Post sample events (echo, embedding, tone) and show each job run to completion.

    Needs the stack from `dpp up`. Mints a sandbox token with the local secret.
    """
    import httpx  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    from dpp_producer.auth import mint_token  # noqa: PLC0415
    from dpp_producer.jwt_secret import jwt_secret  # noqa: PLC0415
    from dpp_producer.settings import producer_settings  # noqa: PLC0415

    token = mint_token(
        jwt_secret(producer_settings()), subject="dpp-demo", scope="events:*", ttl_s=600
    )
    headers = {"Authorization": f"Bearer {token}"}
    session = uuid.uuid4().hex
    started_ms = int(time.time() * 1000) - 1000
    accepted: list[dict[str, Any]] = []
    with httpx.Client(base_url=url, headers=headers, timeout=15) as client:
        try:
            client.get("/healthz").raise_for_status()
        except httpx.HTTPError as error:
            fail(f"the producer API at {url} does not answer ({error}); start it with `dpp up`")
        sent = Table(title="1. events accepted by the producer (acks=all)")
        for column in ("type", "event id", "topic", "partition", "offset"):
            sent.add_column(column)
        for event in _sample_events(session):
            response = client.post("/v1/events", json=event)
            if response.status_code != 202:
                fail(f"{event['type']} was refused ({response.status_code}): {response.text}")
            body = response.json()
            accepted.append(body)
            partition, offset = str(body["partition"]), str(body["offset"])
            sent.add_row(event["type"], body["id"], body["topic"], partition, offset)
        out.print(sent)
        err.print("[dim]… waiting for the workers[/]")
        jobs = _wait_for_jobs(client, [body["id"] for body in accepted], timeout)
    done = Table(title="2. jobs run by the consumer workers")
    for column in ("event id", "job type", "status", "attempts", "result"):
        done.add_column(column)
    for job_id, job in jobs.items():
        if job is None:
            done.add_row(job_id, "?", "[red]not started[/]", "-", "")
            continue
        summary = str(job.get("result") or job.get("error") or "")
        done.add_row(
            job_id,
            str(job.get("job_type")),
            str(job.get("status")),
            str(job.get("attempts")),
            summary[:80] + ("…" if len(summary) > 80 else ""),
        )
    out.print(done)
    if not all(job and job.get("status") == "succeeded" for job in jobs.values()):
        fail("not every job succeeded in time; see .dpp/logs/consumer.log")
    results_topic, lifecycle = _lifecycle_events(list(jobs), started_ms)
    announced = Table(title=f"3. lifecycle events read back from {results_topic}")
    for column in ("job id", "event type", "partition", "offset"):
        announced.add_column(column)
    for job_id in jobs:
        announcement = lifecycle.get(job_id)
        if announcement is None:
            announced.add_row(job_id, "[red]not found[/]", "-", "-")
        else:
            announced.add_row(
                job_id,
                announcement.event_type,
                str(announcement.partition),
                str(announcement.offset),
            )
    out.print(announced)
    if len(lifecycle) < len(jobs):
        fail(f"not every job.completed.v1 was found on {results_topic}")
    out.print(
        "[bold green]done:[/] every event was acknowledged by Kafka, consumed, run, recorded in "
        "the job store and announced on the results topic."
    )


def _lifecycle_events(job_ids: list[str], since_ms: int) -> tuple[str, dict[str, LifecycleEvent]]:
    """Read the jobs' lifecycle events from the results topic of the running stack."""
    import os  # noqa: PLC0415

    from dpp_cli.sandbox import KafkaSandbox  # noqa: PLC0415
    from dpp_cli.stack.results import read_lifecycle_events  # noqa: PLC0415
    from dpp_ops.paths import sandbox_home  # noqa: PLC0415
    from dpp_shared.kafka_config import consumer_config  # noqa: PLC0415
    from dpp_shared.settings import aws_settings, kafka_settings, topic_settings  # noqa: PLC0415
    from dpp_shared.topics import RESULTS_TOPIC, TopicNamespace  # noqa: PLC0415

    kafka = kafka_settings()
    if "KAFKA_BOOTSTRAP_SERVERS" not in os.environ:
        # Follow the sandbox that `dpp up` started, whatever port it was given.
        running = KafkaSandbox(sandbox_home()).status()
        if running.reachable and running.bootstrap_servers:
            kafka = kafka.model_copy(update={"bootstrap_servers": running.bootstrap_servers})
    config = consumer_config(kafka, aws_settings(), group_id="dpp-demo", role="demo")
    topic = TopicNamespace(topic_settings().topic_prefix).physical(RESULTS_TOPIC)
    return topic, read_lifecycle_events(config, topic, set(job_ids), since_ms, timeout_s=30)


def _wait_for_jobs(
    client: Any, job_ids: list[str], timeout_s: float
) -> dict[str, dict[str, Any] | None]:
    jobs: dict[str, dict[str, Any] | None] = dict.fromkeys(job_ids)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for job_id in job_ids:
            current = jobs[job_id]
            if current is not None and current.get("status") in TERMINAL:
                continue
            response = client.get(f"/v1/jobs/{job_id}")
            if response.status_code == 200:
                jobs[job_id] = response.json()
        if all(job and job.get("status") in TERMINAL for job in jobs.values()):
            break
        time.sleep(0.25)
    return jobs
