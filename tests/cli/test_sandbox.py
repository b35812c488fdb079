"""The embedded sandbox: idempotent up, truthful status, down stops only its own process."""

from __future__ import annotations

from pathlib import Path

import pytest

from dpp_cli.sandbox import KafkaSandbox, SandboxError
from dpp_cli.sandbox.broker import broker_reachable
from dpp_ops.ports import free_port


@pytest.mark.slow
def test_up_is_idempotent_status_is_truthful_and_down_stops_it(tmp_path: Path) -> None:
    sandbox = KafkaSandbox(tmp_path / "sb", port=free_port(), ephemeral=True)
    assert not sandbox.status().running
    first = sandbox.up()
    try:
        assert first.running and first.reachable
        assert first.bootstrap_servers is not None
        assert broker_reachable(first.bootstrap_servers)
        second = sandbox.up()
        assert second.pid == first.pid, "a second `up` must reuse the running broker"
        data_dir = Path(str(first.data_dir))
        assert (data_dir / "logs" / "meta.properties").exists(), "storage was formatted"
    finally:
        assert sandbox.down()
    after = sandbox.status()
    assert not after.running
    assert not broker_reachable(str(first.bootstrap_servers), timeout_s=1.0)
    assert not data_dir.exists(), "ephemeral data is removed by down"
    assert not sandbox.down(), "down twice is harmless"


def test_up_refuses_a_port_someone_else_uses(tmp_path: Path, kafka_bootstrap: str) -> None:
    busy_port = int(kafka_bootstrap.rsplit(":", 1)[1])
    sandbox = KafkaSandbox(tmp_path / "sb", port=busy_port, ephemeral=True)
    with pytest.raises(SandboxError, match="already in use"):
        sandbox.up()
    assert broker_reachable(kafka_bootstrap), "the other broker was left alone"


def test_missing_java_is_named_with_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    sandbox = KafkaSandbox(tmp_path / "sb", port=free_port(), ephemeral=True)
    with pytest.raises(SandboxError, match="openjdk-17"):
        sandbox.up()
