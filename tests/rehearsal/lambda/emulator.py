"""The producer zip under the AWS Lambda Runtime Interface Emulator, started as Lambda starts it.

`aws-lambda-rie` (built from the Go module proxy by infra/tools/install.sh) runs
`python -m awslambdaric <handler>` the way the managed runtime does: the unzipped package first on
the path, then the runtime's own modules (awslambdaric and the boto3 the runtime ships), the
interpreter's site-packages left out (`-S`), and no environment but the function's, the
platform's reserved names and the AWS endpoint that stands in for the VPC interface endpoints.

A runtime whose Python this machine lacks (python3.13) runs in its stand-in image
(infra/containers/build-base-images.sh): the same emulator binary mounted in, the zip read-only
at /var/task, the runtime's modules at /var/runtime, on the host network (loopback broker,
PostgreSQL and moto), with a read-only root file system and a writable /tmp as on Lambda.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dpp_ops.ports import free_port

TOOLS_BIN = Path(os.environ.get("DPP_TOOLS_HOME", Path.home() / ".cache" / "dpp" / "tools")) / "bin"
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
# What the managed Python runtime provides besides the zip (awslambdaric in /var/runtime, the
# AWS SDK the runtime ships); `dpp producer package` leaves boto3 out for that reason.
RUNTIME_DISTRIBUTIONS = (
    "awslambdaric",
    "simplejson",
    "snapshot-restore-py",
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "python-dateutil",
    "six",
    "urllib3",
)
_REPORT = re.compile(
    r"REPORT RequestId: (?P<id>\S+)\s+(?:Init Duration: (?P<init>[\d.]+) ms\s+)?"
    r"Duration: (?P<duration>[\d.]+) ms"
)
_INIT_REPORT = re.compile(
    r"INIT RTDONE\(status: success\)\s*\n.*INIT REPORT\(durationMs: ([\d.]+)\)"
)


def rie_binary() -> Path | None:
    found = TOOLS_BIN / "aws-lambda-rie"
    if found.is_file():
        return found
    on_path = shutil.which("aws-lambda-rie")
    return Path(on_path) if on_path else None


def runtime_directory(target: Path) -> Path:
    """A folder holding the runtime's own modules, linked from this environment's installs."""
    target.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_DISTRIBUTIONS:
        distribution = importlib.metadata.distribution(name)
        tops = {
            Path(str(file)).parts[0]
            for file in distribution.files or []
            if not str(file).startswith("..")
            and not Path(str(file)).parts[0].endswith((".dist-info", ".data"))
            and Path(str(file)).parts[0] != "__pycache__"
        }
        for top in tops:
            source = Path(str(distribution.locate_file(top)))
            link = target / top
            if source.exists() and not link.exists():
                link.symlink_to(source)
    return target


@dataclass(frozen=True)
class RuntimeImage:
    """A Lambda runtime's stand-in image, run with this machine's podman settings."""

    image: str  # e.g. public.ecr.aws/lambda/python:3.13
    python: str  # the interpreter in it, e.g. python3.13
    podman_env: Mapping[str, str]  # CONTAINERS_CONF and the rest of podman's environment


@dataclass(frozen=True)
class Report:
    """The emulator's REPORT line of one invocation."""

    request_id: str
    duration_ms: float
    init_duration_ms: float | None


class LambdaEmulator:
    """One execution environment: the emulator process and its runtime, invoked over HTTP.

    Invoke it one request at a time and never give up on an invocation early: a second invoke
    while one runs makes this emulator version panic (nil pointer in rapidcore's Invoke)."""

    def __init__(
        self,
        *,
        task_dir: Path,
        runtime_dir: Path,
        python: str,
        handler: str,
        environment: dict[str, str],
        timeout_s: int,
        memory_mb: int,
        log_file: Path,
        function_name: str = "dev-dev01-dpp-producer",
        container: RuntimeImage | None = None,
    ) -> None:
        binary = rie_binary()
        if binary is None:
            raise RuntimeError("aws-lambda-rie is missing; run: bash infra/tools/install.sh")
        self.port = free_port()
        self.log_file = log_file
        self.timeout_s = timeout_s
        region = environment.get("AWS_REGION", "eu-west-1")
        self.container = container
        task_root, runtime_root = (
            ("/var/task", "/var/runtime") if container else (str(task_dir), str(runtime_dir))
        )
        self.environment = {
            **environment,
            # What Lambda itself sets in every execution environment.
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "LAMBDA_TASK_ROOT": task_root,
            "PYTHONPATH": f"{task_root}:{runtime_root}",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_LAMBDA_FUNCTION_NAME": function_name,
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(timeout_s),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        }
        emulator = [
            "--runtime-interface-emulator-address",
            f"127.0.0.1:{self.port}",
            "--runtime-api-address",
            f"127.0.0.1:{free_port()}",
        ]
        self.name = f"dpp-lambda-{uuid.uuid4().hex[:12]}"
        if container is None:
            self.command = [str(binary), *emulator, python, "-S", "-m", "awslambdaric", handler]
            self._popen_env = self.environment
        else:
            rie = "/usr/local/bin/aws-lambda-rie"
            self.command = [
                "podman", "run", "--rm", "--name", self.name, "--network", "host",
                "--read-only", "--volume", f"{task_dir}:/var/task:ro",
                "--volume", f"{binary}:{rie}:ro", "--workdir", "/var/task",
                *(f"--env={key}={value}" for key, value in sorted(self.environment.items())),
                container.image,
                rie, *emulator, container.python, "-S", "-m", "awslambdaric", handler,
            ]  # fmt: skip
            self._popen_env = dict(container.podman_env)
        self._task_dir = task_dir
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{INVOKE_PATH}"

    def start(self) -> LambdaEmulator:
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                self.command,
                cwd=self._task_dir,
                env=self._popen_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        # A container's start (podman, runc) takes seconds more on a loaded machine.
        deadline = time.monotonic() + (30 if self.container is None else 90)
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"aws-lambda-rie exited: {self.logs()}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError(f"aws-lambda-rie did not listen in 30 s: {self.logs()}")

    def invoke(
        self, event: dict[str, Any], request_id: str | None = None
    ) -> tuple[dict[str, Any], str]:
        """The function's result for `event` (or its error document), and the request id."""
        request_id = request_id or str(uuid.uuid4())
        request = urllib.request.Request(  # noqa: S310 - the emulator's own http URL
            self.url,
            data=json.dumps(event).encode(),
            headers={"Content-Type": "application/json", "X-Amzn-RequestId": request_id},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s + 30) as answer:  # noqa: S310
                return json.loads(answer.read() or b"null"), request_id
        except urllib.error.HTTPError as error:
            # A failed init or a crashed invocation: the emulator answers 502 with the error
            # document the runtime reported (what Lambda's Invoke API returns as FunctionError).
            raw = error.read()
            try:
                document = json.loads(raw)
            except ValueError:
                document = {"errorType": f"HTTP {error.code}", "errorMessage": raw.decode()}
            return document, request_id

    def logs(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    def report(self, request_id: str, deadline_s: float = 10.0) -> Report:
        """The REPORT line of an invocation (written right after its answer)."""
        deadline = time.monotonic() + deadline_s
        while True:
            for match in _REPORT.finditer(self.logs()):
                if match.group("id") == request_id:
                    init = match.group("init")
                    return Report(
                        request_id, float(match.group("duration")), float(init) if init else None
                    )
            if time.monotonic() > deadline:
                raise AssertionError(f"no REPORT for {request_id}:\n{self.logs()[-4000:]}")
            time.sleep(0.02)

    def init_duration_ms(self) -> float:
        """The init phase (interpreter start, handler import, app build) as the emulator reports
        it (`INIT REPORT`); its REPORT line's "Init Duration" counts only its own bookkeeping."""
        match = _INIT_REPORT.search(self.logs())
        if match is None:
            raise AssertionError(f"no successful INIT REPORT:\n{self.logs()[-4000:]}")
        return float(match.group(1))

    def invocation_logs(self, request_id: str) -> list[dict[str, Any]]:
        """The function's JSON log lines written during one invocation (START .. END)."""
        text = self.logs()
        start = text.find(f"START RequestId: {request_id}")
        end = text.find(f"END RequestId: {request_id}", start)
        if start < 0 or end < 0:
            raise AssertionError(f"no START/END for {request_id}:\n{text[-4000:]}")
        lines = []
        for line in text[start:end].splitlines():
            if line.startswith("{"):
                try:
                    lines.append(json.loads(line))
                except ValueError:
                    continue
        return lines

    def stop(self) -> None:
        if self._process is None:
            return
        if self.container is not None:
            # The podman client is not the container: remove the container (and wait for it).
            subprocess.run(
                ["podman", "rm", "--force", "--time", "5", self.name],
                env=self._popen_env, capture_output=True, timeout=60, check=False,
            )  # fmt: skip
        if self._process.poll() is None:
            os.killpg(self._process.pid, 15)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, 9)
                self._process.wait(timeout=10)
        self._process = None
