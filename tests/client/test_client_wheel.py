"""dpp_client ships as its own wheel with no dependencies: built, installed alone into a clean
virtualenv, imported there without loading any third-party module, and used to publish to the
real producer on the real broker."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from dpp_producer.auth import mint_token
from dpp_producer.settings import SANDBOX_JWT_SECRET

ROOT = Path(__file__).resolve().parents[2]

PUBLISH = """
import json, sys
from dpp_client import EventsClient, RetryPolicy
client = EventsClient(sys.argv[1], sys.argv[2], source="urn:dpp:lambda:wheel-test",
                      policy=RetryPolicy(total_timeout_s=60, attempt_timeout_s=30))
payload = {"session_id": "s-wheel", "message": "from a clean venv"}
result = client.publish("demo.echo.requested.v1", payload)
third_party = sorted(
    root for root in {name.split(".")[0] for name in sys.modules}
    if root not in sys.stdlib_module_names and not root.startswith("_") and root != "dpp_client"
)
print(json.dumps({"topic": result.topic, "offset": result.offset, "third_party": third_party}))
"""


@pytest.fixture(scope="module")
def client_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        ["uv", "build", "--package", "dpp-client", "--wheel", "--out-dir", str(out), "--quiet"],
        cwd=ROOT,
        check=True,
        timeout=300,
    )
    (wheel,) = out.glob("dpp_client-*.whl")
    return wheel


def test_the_wheel_declares_no_dependencies(client_wheel: Path) -> None:
    import zipfile

    with zipfile.ZipFile(client_wheel) as archive:
        (metadata_name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = archive.read(metadata_name).decode()
    assert "Name: dpp-client" in metadata
    assert "Requires-Dist" not in metadata


def test_installed_alone_it_imports_nothing_else_and_publishes(
    client_wheel: Path, api_url: str, tmp_path: Path
) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-index", str(client_wheel)],
        check=True,
        timeout=300,
    )
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format", "json"],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    installed = {package["name"] for package in json.loads(listed.stdout)}
    assert installed - {"pip", "setuptools", "wheel"} == {"dpp-client"}

    token = mint_token(SANDBOX_JWT_SECRET, subject="wheel-lambda", scope="events:*", ttl_s=600)
    completed = subprocess.run(
        [str(python), "-I", "-c", PUBLISH, api_url, token],
        check=False, capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["third_party"] == []
    assert report["topic"].endswith("dpp.demo.echo")
    assert report["offset"] >= 0
    assert sys.executable != str(python)  # really another interpreter environment
