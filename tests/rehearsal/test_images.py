"""The images as built here: the ECS commands exist in the consumer image, the producer image
stays lean, the stand-in base looks like the official one, and rebuilds hit the cache."""

from __future__ import annotations

import hashlib
import os
import urllib.request
import uuid
from pathlib import Path

import pytest

from dpp_ops.ports import free_port
from tests.rehearsal.deployment import consumer_tasks
from tests.rehearsal.podman import REPO, Podman, SessionBuilds
from tests.waiting import wait_until

# Cold, the first test builds every image (a few minutes); pytest-timeout counts fixture setup.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

PYTHON_BASE = "docker.io/library/python:3.11-slim-bookworm"


@pytest.mark.parametrize("task", sorted(consumer_tasks()))
def test_the_consumer_image_runs_the_command_of_each_ecs_task(
    podman: Podman, consumer_image: str, task: str
) -> None:
    """Defect 1: the image had no `dpp`, so neither `dpp consumer run` nor `dpp topics apply`
    could start ("executable file not found")."""
    command = consumer_tasks()[task].command
    result = podman.run(
        "run", "--rm", "--read-only", "--read-only-tmpfs=false", consumer_image,
        *command, "--help",
    )  # fmt: skip
    text = " ".join(result.stdout.split())
    words = [part for part in command[1:] if not part.startswith("-")]
    assert "Usage: dpp " + " ".join(words) in text
    for option in (part for part in command[1:] if part.startswith("-")):
        assert option in text, f"{option} is not an option of `{' '.join(command)}`"


def test_the_producer_image_serves_the_api_without_the_cli_or_the_worker(
    podman: Podman, producer_image: str
) -> None:
    lean = podman.run(
        "run", "--rm", producer_image, "python", "-c",
        "import importlib.util as u, shutil; "
        "print(shutil.which('dpp'), u.find_spec('dpp_consumer'), u.find_spec('dpp_cli'))",
    )  # fmt: skip
    assert lean.stdout.split() == ["None", "None", "None"]
    port = free_port()
    name = f"dpp-rehearsal-producer-{uuid.uuid4().hex[:8]}"
    # The image's own CMD on its own port 8080, published on a free loopback port.
    podman.run(
        "run", "-d", "--name", name, "--publish", f"127.0.0.1:{port}:8080",
        "--env", "DPP_ENV=sandbox", producer_image,
    )  # fmt: skip
    try:

        def health() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    return bool(r.status == 200)
            except OSError:
                return False

        wait_until(health, 60, "the producer image's /healthz")
        assert podman.healthy(name), "the image's own HEALTHCHECK fails while /healthz answers"
    finally:
        podman.run("rm", "-f", name, check=False)


def test_the_stand_in_base_has_the_official_layout_and_this_machines_ca(
    base_images: Podman,
) -> None:
    script = (
        "import os, sys, shutil, sysconfig, hashlib; "
        "print(os.path.realpath('/usr/local/bin/python3.11') != '', sys.version_info[:2], "
        "shutil.which('pip'), os.environ['SSL_CERT_FILE'], "
        "os.path.exists(sysconfig.get_path('stdlib') + '/EXTERNALLY-MANAGED'), "
        "hashlib.sha256(open(os.environ['SSL_CERT_FILE'], 'rb').read()).hexdigest())"
    )
    result = base_images.run("run", "--rm", PYTHON_BASE, "/usr/local/bin/python3.11", "-c", script)
    bundle = Path(os.environ.get("DPP_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt"))
    host_digest = hashlib.sha256(bundle.read_bytes()).hexdigest()
    assert result.stdout.split() == [
        "True", "(3,", "11)", "/usr/local/bin/pip", "/etc/ssl/certs/ca-certificates.crt",
        "False", host_digest,
    ]  # fmt: skip


def test_rebuilding_unchanged_inputs_reuses_every_image(
    base_images: Podman, project_images: dict[str, str], session_builds: SessionBuilds
) -> None:
    """An image this session's build kept (same id) was answered from the cache; one it built
    (from nothing, or because an input changed) is built once more and must come out the same."""
    rebuilt = {
        image: after
        for image, after in session_builds.after.items()
        if session_builds.before[image] != after
    }
    if rebuilt:
        base_images.build_base_images()
        base_images.build(REPO / "consumer" / "Dockerfile", project_images["consumer"])
        base_images.build(REPO / "producer" / "Dockerfile", project_images["producer"])
    assert {image: base_images.image_id(image) for image in rebuilt} == rebuilt
    assert len(session_builds.after) == 6 and all(session_builds.after.values())
