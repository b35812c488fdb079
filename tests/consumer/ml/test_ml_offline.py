"""The ML jobs load lazily and run with the network cut off: nothing is fetched at run time."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network use is forbidden in the ML jobs")

    # Any connection attempt, by any library, now fails loudly.
    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse

    from dpp_consumer.ml import embedding, tone, warm_up, embed, classify_tone

    assert embedding._encoder is None and tone._classifier is None, "loaded at import time"
    warm_up()
    encoder = embedding._encoder
    assert encoder is not None and tone._classifier is not None
    vectors = embed(["offline works", "no network needed"])
    assert vectors.shape == (2, 384)
    assert classify_tone(["Thank you for your kind letter."])[0].label == "formal"
    assert embedding._encoder is encoder, "the model was loaded twice"
    print("ok")
    """
)


def test_jobs_load_lazily_and_need_no_network() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=False, timeout=120
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
