"""`dpp lag --watch` in a real terminal (tmux): one table, redrawn in place with new samples."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid

import pytest

from dpp_shared.topics import DEMO_TOPIC, TopicNamespace
from tests.ops.support import commit_offsets, produce_plain
from tests.waiting import wait_until

# ./dev does not install tmux (yet): skip where it is missing, CI included.
pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="apt-get install -y tmux")


def test_watch_redraws_one_table_in_place(
    kafka_bootstrap: str, topic_namespace: TopicNamespace, group: str
) -> None:
    topic = topic_namespace.physical(DEMO_TOPIC)
    produce_plain(kafka_bootstrap, topic, 4, partition=2)
    commit_offsets(kafka_bootstrap, group, {(topic, 2): 1})
    session = f"dpp-lag-{uuid.uuid4().hex[:8]}"
    command = shlex.join(
        [sys.executable, "-c", "from dpp_cli.commands.lag import app; app()",
         "--watch", "--interval", "0.5", "-g", group, "-t", topic]
    )  # fmt: skip
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "200", "-y", "50", command],
        env=env, check=True,
    )  # fmt: skip

    def screen() -> str:
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True,
            check=False,
        ).stdout  # fmt: skip

    def sample_number() -> int:
        found = re.findall(r"consumer lag \(sample (\d+)\)", screen())
        return int(found[-1]) if found else 0

    try:
        first = wait_until(sample_number, 30, "the first table")
        later = wait_until(lambda: (n := sample_number()) > first + 1 and n, 30, "a redraw")
        text = screen()
        assert later > first
        assert text.count("consumer lag (sample") == 1, "the table must be redrawn in place"
        rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in text.splitlines()]
        (row,) = [r for r in rows if len(r) == 7 and r[1] == topic and r[2] == "2"]
        assert row[0] == group and row[3] == "3"  # lag 3 on partition 2
        subprocess.run(["tmux", "send-keys", "-t", session, "C-c"], check=True)
        wait_until(
            lambda: subprocess.run(
                ["tmux", "has-session", "-t", session], capture_output=True, check=False
            ).returncode != 0,
            20, "the watch to exit on Ctrl-C",
        )  # fmt: skip
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, check=False)
