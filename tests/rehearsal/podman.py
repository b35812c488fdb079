"""The rehearsal's podman: this machine's settings (CONTAINERS_CONF), builds, runs and health."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONTAINERS_DIR = REPO / "infra" / "containers"
BUILD_BASE_IMAGES = CONTAINERS_DIR / "build-base-images.sh"
COMPOSE_FILES = (REPO / "docker-compose.yml", CONTAINERS_DIR / "compose.rehearsal.yml")
# The names docker-compose.yml gives the project images, so `up` finds them already built.
CONSUMER_IMAGE = "localhost/dpp-consumer:local"
PRODUCER_IMAGE = "localhost/dpp-producer:local"
PODMAN_COMPOSE_VERSION = "1.6.0"


@dataclass
class SessionBuilds:
    """Image ids before and after this session's builds: equal ids mean the build found every
    input unchanged and reused the cached image; None before means built from nothing."""

    before: dict[str, str | None] = field(default_factory=dict)
    after: dict[str, str | None] = field(default_factory=dict)


class PodmanUnavailableError(Exception):
    """Podman cannot run containers on this machine; the message says why."""


def podman_compose_executable() -> str | None:
    """podman-compose on PATH, else where `uv tool install` (./dev) put it."""
    found = shutil.which("podman-compose")
    if found:
        return found
    uv = shutil.which("uv")
    if uv is None:
        return None
    result = subprocess.run(
        [uv, "tool", "dir", "--bin"], capture_output=True, text=True, check=False
    )
    candidate = Path(result.stdout.strip()) / "podman-compose"
    return str(candidate) if result.returncode == 0 and candidate.exists() else None


@dataclass(frozen=True)
class Podman:
    """Runs podman with the settings build-base-images.sh wrote for this machine."""

    env: Mapping[str, str]

    @classmethod
    def for_this_machine(cls) -> Podman:
        """Check that podman can run a container here; raise PodmanUnavailableError if not."""
        if shutil.which("podman") is None:
            raise PodmanUnavailableError("podman is not installed (./dev test installs it)")
        if os.geteuid() != 0:
            raise PodmanUnavailableError(
                "the rehearsal needs root: debootstrap and rootful podman build the stand-ins"
            )
        printed = subprocess.run(
            ["bash", str(BUILD_BASE_IMAGES), "--env"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if printed.returncode != 0:
            raise PodmanUnavailableError(f"build-base-images.sh --env failed: {printed.stderr}")
        conf = printed.stdout.strip().removeprefix("export CONTAINERS_CONF=")
        podman = cls({**os.environ, "CONTAINERS_CONF": conf})
        info = podman.run("info", "--format", "{{.Host.OCIRuntime.Name}}", check=False)
        if info.returncode != 0:
            raise PodmanUnavailableError(f"`podman info` fails here: {info.stderr.strip()}")
        return podman

    def run(
        self, *args: str, check: bool = True, timeout_s: float = 120.0
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["podman", *args],
            env=dict(self.env), capture_output=True, text=True, timeout=timeout_s, check=False,
        )  # fmt: skip
        if check and result.returncode != 0:
            raise AssertionError(
                f"podman {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    def build_base_images(self) -> None:
        """The stand-in base images; a no-op (under a second) when they are current."""
        result = subprocess.run(
            ["bash", str(BUILD_BASE_IMAGES)],
            env=dict(self.env), capture_output=True, text=True, timeout=900, check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"build-base-images.sh failed:\n{result.stderr[-5000:]}"

    def build(self, dockerfile: Path, tag: str) -> None:
        """Build a project image from the workspace root; podman's layer cache keeps it warm."""
        self.run(
            "build", "--format", "docker", "--network", "host", "--quiet",
            "-f", str(dockerfile), "-t", tag, str(REPO),
            timeout_s=900,
        )  # fmt: skip

    def healthy(self, container: str) -> bool:
        """Run the container's own HEALTHCHECK once. Podman runs health checks on systemd
        timers, and there is no systemd here, so the rehearsal runs them itself."""
        return self.run("healthcheck", "run", container, check=False).returncode == 0

    def exit_code(self, container: str) -> int | None:
        """The exit code of a stopped container, None while it runs."""
        state = self.run(
            "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", container
        ).stdout.split()
        return int(state[1]) if state[0] in {"exited", "stopped"} else None

    def image_id(self, image: str) -> str | None:
        result = self.run("image", "inspect", "--format", "{{.Id}}", image, check=False)
        return result.stdout.strip() if result.returncode == 0 else None

    def logs(self, container: str) -> str:
        result = self.run("logs", container, check=False)
        return result.stdout + result.stderr

    def run_task(
        self,
        image: str,
        command: Sequence[str],
        env: Mapping[str, str],
        *,
        name: str,
        detach: bool = False,
    ) -> list[str]:
        """`podman run` arguments for an ECS task: host network (the broker and PostgreSQL
        listen on loopback), and a read-only root file system as the task definition asks."""
        arguments = ["run", *(["--detach"] if detach else []), "--name", name, "--network", "host"]
        arguments += ["--read-only", "--read-only-tmpfs=false"]
        for key, value in sorted(env.items()):
            arguments += ["--env", f"{key}={value}"]
        return [*arguments, image, *command]
