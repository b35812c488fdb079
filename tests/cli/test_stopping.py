"""Stop signals during a child's start: held until the pid is known, then delivered once."""

from __future__ import annotations

import signal

import pytest

from dpp_cli.stack.stopping import StopRequested, stop_signals_held, stop_signals_raise


def test_a_stop_signal_inside_the_held_block_is_raised_when_the_block_ends() -> None:
    finished_the_block = False
    with stop_signals_raise(), pytest.raises(StopRequested) as stop, stop_signals_held():
        signal.raise_signal(signal.SIGTERM)
        finished_the_block = True  # the start completes: the caller learns the child's pid
    assert finished_the_block
    assert stop.value.signum == signal.SIGTERM


def test_without_a_signal_the_held_block_ends_quietly_and_restores_the_handlers() -> None:
    with stop_signals_raise():
        before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        with stop_signals_held():
            assert signal.getsignal(signal.SIGTERM) is not before[signal.SIGTERM]
        assert {sig: signal.getsignal(sig) for sig in before} == before
