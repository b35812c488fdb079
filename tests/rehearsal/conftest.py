"""Rehearsal fixtures: podman set up for this machine, the stand-in bases and the project images."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.rehearsal.podman import (
    CONSUMER_IMAGE,
    PRODUCER_IMAGE,
    REPO,
    Podman,
    PodmanUnavailableError,
    SessionBuilds,
)


@pytest.fixture(scope="session")
def podman() -> Podman:
    """Podman with this machine's settings; skips (with the reason) where it cannot run.

    Under CI a missing podman is a failure: `./dev test` installs it, so only a machine that
    has it and still cannot run containers may skip."""
    try:
        return Podman.for_this_machine()
    except PodmanUnavailableError as error:
        if os.environ.get("CI") and shutil.which("podman") is None:
            pytest.fail(f"podman is missing although ./dev test installs it: {error}")
        pytest.skip(f"the container rehearsal cannot run here: {error}")


STAND_INS = (
    "docker.io/library/python:3.11-slim-bookworm",
    "docker.io/apache/kafka:4.1.1",
    "localhost/dpp-standin/postgres:15-bookworm",
    "public.ecr.aws/lambda/python:3.13",
)


@pytest.fixture(scope="session")
def session_builds() -> SessionBuilds:
    return SessionBuilds()


def _record(podman: Podman, images: tuple[str, ...], into: dict[str, str | None]) -> None:
    for image in images:
        into[image] = podman.image_id(image)


@pytest.fixture(scope="session")
def base_images(podman: Podman, session_builds: SessionBuilds) -> Podman:
    """The stand-ins for python:3.11-slim-bookworm, apache/kafka and postgres, built once and
    then reused: build-base-images.sh rebuilds one only when its inputs change."""
    _record(podman, STAND_INS, session_builds.before)
    podman.build_base_images()
    _record(podman, STAND_INS, session_builds.after)
    return podman


@pytest.fixture(scope="session")
def project_images(base_images: Podman, session_builds: SessionBuilds) -> dict[str, str]:
    """Both project images from their Dockerfiles; warm, podman's layer cache answers every
    step. One after the other: side by side, each would build the shared build stage's layers
    for itself, and the next run would find the other's and rebuild (a new image id)."""
    images = (CONSUMER_IMAGE, PRODUCER_IMAGE)
    _record(base_images, images, session_builds.before)
    base_images.build(REPO / "consumer" / "Dockerfile", CONSUMER_IMAGE)
    base_images.build(REPO / "producer" / "Dockerfile", PRODUCER_IMAGE)
    _record(base_images, images, session_builds.after)
    return {"consumer": CONSUMER_IMAGE, "producer": PRODUCER_IMAGE}


@pytest.fixture(scope="session")
def consumer_image(project_images: dict[str, str]) -> str:
    return project_images["consumer"]


@pytest.fixture(scope="session")
def producer_image(project_images: dict[str, str]) -> str:
    return project_images["producer"]
