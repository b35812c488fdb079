"""`dpp producer package`: the zip holds Linux wheels and our code, and its handler serves a real
API Gateway v2 event against the real broker, run from the unzipped package alone."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from dpp_producer.lambda_package import LambdaTarget, build_lambda_zip
from dpp_shared.topics import DEMO_TOPIC, TopicNamespace
from tests.producer import factories
from tests.producer.test_lambda import EVENTS

# Runs inside the unzipped package with `python -S`: no site-packages, only the zip's contents
# plus what the Lambda runtime itself provides (boto3/botocore, linked in below).
INVOKE = """
import json, sys
import confluent_kafka
import dpp_producer.lambda_handler as lambda_handler

class Context:
    function_name = "dpp-producer"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:dpp-producer"
    memory_limit_in_mb = 512
    aws_request_id = "zip-test"
    log_group_name = "/aws/lambda/dpp-producer"
    log_stream_name = "zip-test"

    def get_remaining_time_in_millis(self):
        return 30000

event = json.loads(open(sys.argv[1]).read())
response = lambda_handler.handler(event, Context())
print("RESULT " + json.dumps({"response": response, "kafka": confluent_kafka.__file__}))
"""


@pytest.mark.slow
def test_package_builds_a_zip_whose_handler_publishes(
    tmp_path: Path, kafka_bootstrap: str, topic_namespace: TopicNamespace
) -> None:
    # Built for this interpreter's runtime, which runs it below (the declared runtime's zip runs
    # under the emulator on that runtime: tests/rehearsal/lambda).
    here = LambdaTarget(f"python{sys.version_info.major}.{sys.version_info.minor}")
    report = build_lambda_zip(tmp_path / "dist" / "producer-lambda.zip", target=here)
    assert report.bytecode and report.wheel_glibc is not None
    assert report.wheel_glibc <= here.glibc

    assert report.path.exists() and report.zipped_bytes == report.path.stat().st_size
    assert {"boto3", "botocore", "uvicorn"} <= set(report.excluded)
    with zipfile.ZipFile(report.path) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "package")
    tops = {name.split("/")[0] for name in names}
    assert {
        "dpp_producer",
        "dpp_shared",
        "dpp_store",
        "confluent_kafka",
        "mangum",
        "pydantic_core",
    } <= tops
    assert not {"boto3", "botocore", "uvicorn", "pytest", "mypy", "ruff"} & tops
    assert "dpp_producer/lambda_handler.py" in names
    assert any(name.startswith("confluent_kafka/cimpl.") and name.endswith(".so") for name in names)

    # What the Lambda runtime provides itself, taken from this environment.
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    spec = importlib.util.find_spec("botocore")
    assert spec is not None and spec.origin is not None
    site_packages = Path(spec.origin).parents[1]
    for provided in ("boto3", "botocore", "s3transfer"):
        (runtime / provided).symlink_to(site_packages / provided)
    event_file = tmp_path / "event.json"
    event_file.write_text(
        (EVENTS / "apigw_v2_post_event.json").read_text().replace("<TOKEN>", factories.token())
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": f"{tmp_path / 'package'}{os.pathsep}{runtime}",
        "PYTHONDONTWRITEBYTECODE": "1",
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DPP_TOPIC_PREFIX": topic_namespace.prefix,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'jobs.db'}",
        "DPP_ENV": "test",
    }
    completed = subprocess.run(
        [sys.executable, "-S", "-c", INVOKE, str(event_file)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    result_line = next(line for line in completed.stdout.splitlines() if line.startswith("RESULT "))
    result = json.loads(result_line.removeprefix("RESULT "))
    assert result["kafka"].startswith(str(tmp_path / "package"))
    response = result["response"]
    assert response["statusCode"] == 202, response
    body = json.loads(response["body"])
    assert body["topic"] == topic_namespace.physical(DEMO_TOPIC)
    record = factories.read_record(
        kafka_bootstrap, body["topic"], body["partition"], body["offset"]
    )
    assert record.key == b"lambda-session-1"
    assert record.headers["ce_id"].decode() == body["id"]
