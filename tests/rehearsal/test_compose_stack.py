"""docker-compose.yml brought up for real with podman-compose, then `dpp demo` from the host.

Podman 4.3 (Debian 12) cannot honour two things the file asks, so the test does them itself,
in the order compose would: podman-compose ignores `service_healthy` below podman 4.6 (and
health checks run on systemd timers, absent here), and podman 4.3 refuses to start a container
whose `--requires` chain reaches a running container ("generating dependency graph ... not
found in input list"). So: kafka and postgres, until their own health checks pass; then the
one-shot topics service, until it exits 0; then producer and consumer (`--no-deps`), until
healthy. Everything the project created is removed at the end: containers, network, volumes.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from dpp_ops.ports import free_port
from tests.rehearsal.podman import (
    COMPOSE_FILES,
    PODMAN_COMPOSE_VERSION,
    REPO,
    Podman,
    podman_compose_executable,
)
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

HOST_PORT_VARIABLES = (
    "DPP_KAFKA_HOST_PORT",
    "DPP_POSTGRES_HOST_PORT",
    "DPP_PRODUCER_HOST_PORT",
    "DPP_CONSUMER_METRICS_HOST_PORT",
)


@dataclass
class ComposeProject:
    podman: Podman
    executable: str
    name: str
    env: dict[str, str]

    def compose(self, *args: str) -> subprocess.CompletedProcess[str]:
        files = [argument for path in COMPOSE_FILES for argument in ("-f", str(path))]
        result = subprocess.run(
            [self.executable, "-p", self.name, *files, *args],
            env=self.env, cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert result.returncode == 0, (
            f"podman-compose {' '.join(args)} failed:\n{result.stdout[-3000:]}\n"
            f"{result.stderr[-3000:]}"
        )
        return result

    def container(self, service: str) -> str:
        return f"{self.name}_{service}_1"

    def port(self, variable: str) -> int:
        return int(self.env[variable])

    def containers(self) -> list[str]:
        label = f"label=io.podman.compose.project={self.name}"
        listed = self.podman.run("ps", "--all", "--filter", label, "--format", "{{.Names}}")
        return listed.stdout.split()

    def volumes(self) -> set[str]:
        """Named and anonymous volumes of the project's containers (images declare VOLUMEs)."""
        names: set[str] = set()
        for container in self.containers():
            mounts = self.podman.run(
                "inspect", "--format", "{{range .Mounts}}{{.Name}} {{end}}", container
            )
            names.update(mounts.stdout.split())
        return names


@pytest.fixture
def project(
    podman: Podman, base_images: Podman, consumer_image: str, producer_image: str
) -> Iterator[ComposeProject]:
    executable = podman_compose_executable()
    if executable is None:
        message = (
            f"podman-compose is missing: uv tool install podman-compose=={PODMAN_COMPOSE_VERSION}"
        )
        if os.environ.get("CI"):
            pytest.fail(message + " (./dev test installs it)")
        pytest.skip(message)
    env = {**podman.env, **{variable: str(free_port()) for variable in HOST_PORT_VARIABLES}}
    project = ComposeProject(podman, executable, f"dpp-rehearsal-{uuid.uuid4().hex[:8]}", env)
    volumes: set[str] = set()
    try:
        yield project
    finally:
        volumes = project.volumes()
        try:
            project.compose("down", "--volumes", "--timeout", "30")
        finally:
            for volume in sorted(volumes):  # anonymous ones outlive `down --volumes`
                podman.run("volume", "rm", "--force", volume, check=False)
    assert project.containers() == [], "containers left behind"
    networks = podman.run("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert not [n for n in networks if n.startswith(project.name)], networks
    left = set(podman.run("volume", "ls", "--format", "{{.Name}}").stdout.split())
    assert not volumes & left, f"volumes left behind: {volumes & left}"


def wait_healthy(project: ComposeProject, *services: str) -> None:
    for service in services:
        container = project.container(service)

        def healthy(container: str = container) -> bool:
            return project.podman.healthy(container)

        wait_until(healthy, 120, f"{service} to be healthy")


def test_compose_stack_runs_the_demo_and_accepts_the_token_command(
    project: ComposeProject,
) -> None:
    podman = project.podman
    project.compose("up", "--detach", "kafka", "postgres")
    wait_healthy(project, "kafka", "postgres")

    project.compose("up", "--detach", "--no-deps", "topics")
    topics = project.container("topics")
    wait_until(lambda: podman.exit_code(topics) is not None, 120, "the topics service to end")
    code = podman.exit_code(topics)
    assert code == 0, f"topics exited {code}:\n{podman.logs(topics)}"

    project.compose("up", "--detach", "--no-deps", "producer", "consumer")
    wait_healthy(project, "producer", "consumer")

    # From the host, as a user would: no JWT_SECRET, so the sandbox secret signs.
    host_env = {k: v for k, v in os.environ.items() if k != "JWT_SECRET"}
    host_env["KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{project.port('DPP_KAFKA_HOST_PORT')}"
    url = f"http://127.0.0.1:{project.port('DPP_PRODUCER_HOST_PORT')}"
    demo = subprocess.run(
        ["uv", "run", "--frozen", "--quiet", "dpp", "demo", "--url", url, "--timeout", "90"],
        env=host_env, cwd=REPO, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert demo.returncode == 0, f"{demo.stdout[-4000:]}\n{demo.stderr[-4000:]}"
    assert "done: every event was acknowledged" in " ".join(demo.stdout.split())

    token = subprocess.run(
        ["uv", "run", "--frozen", "--quiet", "dpp", "producer", "token"],
        env=host_env, cwd=REPO, capture_output=True, text=True, timeout=60, check=True,
    ).stdout.strip()  # fmt: skip
    headers = {"Authorization": f"Bearer {token}"}
    missing = httpx.get(f"{url}/v1/jobs/{uuid.uuid4()}", headers=headers, timeout=10)
    assert missing.status_code == 404, missing.text  # authenticated: the job is just not there
    forged = httpx.get(
        f"{url}/v1/jobs/{uuid.uuid4()}", headers={"Authorization": "Bearer x.y.z"}, timeout=10
    )
    assert forged.status_code == 401
