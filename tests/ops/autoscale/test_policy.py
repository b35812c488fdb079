"""The autoscale decision: KEDA formula, caps, activation, scale to zero, HPA stabilisation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpp_ops.autoscale import (
    AutoscalePolicy,
    AutoscaleState,
    PartitionLoad,
    ScaleDecision,
    decide,
    loads_of,
)
from dpp_ops.lag import GroupLag, LagSource, PartitionLag


def policy(**overrides: object) -> AutoscalePolicy:
    base: dict[str, object] = {
        "lag_threshold": 100,
        "min_workers": 1,
        "max_workers": 8,
        "tolerance": 0.0,
        "scale_down_stabilization_s": 0,
    }
    base.update(overrides)
    return AutoscalePolicy.model_validate(base)


def run(lags: list[int], current: int = 1, **overrides: object) -> ScaleDecision:
    loads = [PartitionLoad(lag) for lag in lags]
    return decide(loads, current_workers=current, now=1000.0, policy=policy(**overrides))


def test_desired_is_total_lag_over_threshold_rounded_up() -> None:
    decision = run([120, 80, 51, 0])
    assert (decision.desired_workers, decision.total_lag) == (3, 251)
    assert "ceil(251/100) = 3" in decision.reason


def test_never_more_workers_than_partitions_unless_idle_consumers_allowed() -> None:
    assert run([1000, 1000]).desired_workers == 2
    assert run([1000, 1000], allow_idle_consumers=True).desired_workers == 8


def test_limit_to_partitions_with_lag() -> None:
    assert run([500, 0, 0, 0], limit_to_partitions_with_lag=True).desired_workers == 1
    assert run([500, 0, 0, 0]).desired_workers == 4


def test_max_and_min_workers_bound_the_result() -> None:
    assert run([10_000] * 20).desired_workers == 8
    assert run([0, 0], min_workers=2).desired_workers == 2


def test_activation_threshold_and_scale_to_zero_after_cooldown() -> None:
    zero = policy(min_workers=0, activation_lag_threshold=10, cooldown_s=300)
    busy = decide([PartitionLoad(50)], current_workers=0, now=0.0, policy=zero)
    assert busy.active and busy.desired_workers == 1
    quiet = decide([PartitionLoad(5)], current_workers=1, now=100.0, policy=zero, state=busy.state)
    assert not quiet.active and quiet.desired_workers == 1  # still in cooldown
    idle = decide([PartitionLoad(5)], current_workers=1, now=300.0, policy=zero, state=quiet.state)
    assert idle.desired_workers == 0 and "scaled to zero" in idle.reason
    never_active = decide([PartitionLoad(0)], current_workers=3, now=0.0, policy=zero)
    assert never_active.desired_workers == 0


def test_below_activation_with_min_workers_keeps_the_floor() -> None:
    decision = run([5], current=3, activation_lag_threshold=10)
    assert not decision.active and decision.desired_workers == 1


def test_partitions_without_committed_offset_follow_keda() -> None:
    loads = [PartitionLoad(0, committed=False), PartitionLoad(0, committed=False)]
    latest = policy(offset_reset_policy="latest", min_workers=0)
    assert decide(loads, current_workers=0, now=0, policy=latest).total_lag == 2
    to_zero = latest.model_copy(update={"scale_to_zero_on_invalid_offset": True})
    assert decide(loads, current_workers=0, now=0, policy=to_zero).desired_workers == 0
    earliest = policy(offset_reset_policy="earliest")
    history = [PartitionLoad(250, committed=False)]
    assert decide(history, current_workers=1, now=0, policy=earliest).total_lag == 250


def test_tolerance_keeps_the_current_count_near_target() -> None:
    assert run([520] * 1 + [0] * 9, current=5, tolerance=0.1).desired_workers == 5
    assert run([560] + [0] * 9, current=5, tolerance=0.1).desired_workers == 6


def test_scale_down_waits_for_the_stabilisation_window() -> None:
    slow_down = policy(scale_down_stabilization_s=300)
    loads_busy = [PartitionLoad(800)] * 8
    up = decide(loads_busy, current_workers=1, now=0.0, policy=slow_down)
    assert up.desired_workers == 8
    held = decide(
        [PartitionLoad(0)] * 8, current_workers=8, now=120.0, policy=slow_down, state=up.state
    )
    assert held.desired_workers == 8 and "scale-down held" in held.reason
    down = decide(
        [PartitionLoad(0)] * 8, current_workers=8, now=301.0, policy=slow_down, state=held.state
    )
    assert down.desired_workers == 1


def test_scale_up_waits_for_its_stabilisation_window() -> None:
    careful = policy(scale_up_stabilization_s=60)
    calm = decide([PartitionLoad(0)] * 4, current_workers=1, now=0.0, policy=careful)
    spike = decide(
        [PartitionLoad(400)] * 4, current_workers=1, now=30.0, policy=careful, state=calm.state
    )
    assert spike.desired_workers == 1 and "scale-up held" in spike.reason
    later = decide(
        [PartitionLoad(400)] * 4, current_workers=1, now=61.0, policy=careful, state=spike.state
    )
    assert later.desired_workers == 4


def test_policy_rejects_incoherent_settings() -> None:
    with pytest.raises(ValueError, match="min_workers"):
        AutoscalePolicy(min_workers=5, max_workers=2)
    with pytest.raises(ValueError, match="mutually exclusive"):
        AutoscalePolicy(allow_idle_consumers=True, limit_to_partitions_with_lag=True)
    with pytest.raises(ValueError):
        AutoscalePolicy(lag_threshold=0)


def test_loads_of_reader_output() -> None:
    def entry(partition: int, committed: int | None, lag: int) -> PartitionLag:
        return PartitionLag(
            group="g", topic="t", partition=partition, committed_offset=committed,
            log_start_offset=0, log_end_offset=lag, end_offset=lag, position=0,
            source=LagSource.COMMITTED if committed is not None else LagSource.NO_COMMIT,
            lag_messages=lag, lag_seconds=0.0, first_pending_offset=None,
            first_pending_timestamp=None, owner=None, observed_at=0.0,
        )  # fmt: skip

    group = GroupLag("g", "EMPTY", 0, (entry(0, 0, 7), entry(1, None, 3)), 0.0)
    assert loads_of(group) == [PartitionLoad(7, True), PartitionLoad(3, False)]


# -- properties -------------------------------------------------------------------------


@st.composite
def policies(draw: st.DrawFn, min_floor: int = 0) -> AutoscalePolicy:
    low = draw(st.integers(min_floor, 4))
    mode = draw(st.sampled_from(["cap", "idle", "with_lag"]))
    return AutoscalePolicy(
        lag_threshold=draw(st.integers(1, 500)),
        activation_lag_threshold=draw(st.integers(0, 100)),
        min_workers=low,
        max_workers=draw(st.integers(max(low, 1), 16)),
        allow_idle_consumers=mode == "idle",
        limit_to_partitions_with_lag=mode == "with_lag",
        offset_reset_policy=draw(st.sampled_from(["earliest", "latest"])),
        scale_to_zero_on_invalid_offset=draw(st.booleans()),
        tolerance=draw(st.sampled_from([0.0, 0.1, 0.3])),
        scale_up_stabilization_s=draw(st.sampled_from([0.0, 30.0, 120.0])),
        scale_down_stabilization_s=draw(st.sampled_from([0.0, 60.0, 300.0])),
        cooldown_s=draw(st.sampled_from([0.0, 60.0, 300.0])),
    )


load_lists = st.lists(
    st.builds(PartitionLoad, st.integers(0, 5000), st.booleans()), min_size=1, max_size=12
)
steps = st.lists(
    st.tuples(st.floats(1.0, 200.0), st.lists(st.integers(0, 5000), min_size=6, max_size=6)),
    min_size=1,
    max_size=25,
)


def simulate(
    pol: AutoscalePolicy, plan: list[tuple[float, list[int]]]
) -> list[tuple[float, ScaleDecision]]:
    """Feed each decision back as the current count, as a controller would."""
    now, current, state = 0.0, pol.min_workers, AutoscaleState()
    out = []
    for dt, lags in plan:
        now += dt
        decision = decide(
            [PartitionLoad(lag) for lag in lags],
            current_workers=current,
            now=now,
            policy=pol,
            state=state,
        )
        out.append((now, decision))
        current, state = decision.desired_workers, decision.state
    return out


@settings(max_examples=300, deadline=None)
@given(policies(), load_lists, st.integers(0, 20))
def test_desired_stays_within_bounds(
    pol: AutoscalePolicy, loads: list[PartitionLoad], current: int
) -> None:
    decision = decide(loads, current_workers=current, now=0.0, policy=pol)
    if decision.desired_workers == 0:
        assert pol.min_workers == 0 and not decision.active
    else:
        assert max(pol.min_workers, 1) <= decision.desired_workers <= pol.max_workers


@settings(max_examples=300, deadline=None)
@given(policies(), steps)
def test_never_more_workers_than_partitions_without_idle_consumers(
    pol: AutoscalePolicy, plan: list[tuple[float, list[int]]]
) -> None:
    for _, decision in simulate(pol, plan):
        if not pol.allow_idle_consumers:
            assert decision.desired_workers <= max(decision.partition_count, pol.min_workers)


@settings(max_examples=300, deadline=None)
@given(policies(), load_lists, st.data())
def test_more_lag_never_means_fewer_workers(
    pol: AutoscalePolicy, loads: list[PartitionLoad], data: st.DataObject
) -> None:
    extra = data.draw(st.lists(st.integers(0, 3000), min_size=len(loads), max_size=len(loads)))
    heavier = [
        PartitionLoad(load.lag + more, load.committed)
        for load, more in zip(loads, extra, strict=True)
    ]
    current = data.draw(st.integers(0, 20))
    state = AutoscaleState(((-10.0, data.draw(st.integers(0, 16))),), last_active_at=-5.0)
    light = decide(loads, current_workers=current, now=0.0, policy=pol, state=state)
    heavy = decide(heavier, current_workers=current, now=0.0, policy=pol, state=state)
    assert heavy.desired_workers >= light.desired_workers


@settings(max_examples=300, deadline=None)
@given(policies(min_floor=1), steps)
def test_no_flapping_inside_the_stabilisation_windows(
    pol: AutoscalePolicy, plan: list[tuple[float, list[int]]]
) -> None:
    history = simulate(pol, plan)
    previous = pol.min_workers
    last_up: float | None = None
    last_down: float | None = None
    for now, decision in history:
        if decision.desired_workers > previous:
            assert last_down is None or now - last_down >= pol.scale_up_stabilization_s
            last_up = now
        elif decision.desired_workers < previous:
            assert last_up is None or now - last_up >= pol.scale_down_stabilization_s
            last_down = now
        previous = decision.desired_workers


@settings(max_examples=300, deadline=None)
@given(policies(), steps)
def test_scale_to_zero_only_after_cooldown(
    pol: AutoscalePolicy, plan: list[tuple[float, list[int]]]
) -> None:
    last_active: float | None = None
    previous = pol.min_workers
    for now, decision in simulate(pol, plan):
        if decision.active:
            last_active = now
        if decision.desired_workers == 0 and previous > 0 and last_active is not None:
            assert now - last_active >= pol.cooldown_s
        previous = decision.desired_workers


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 5000), min_size=1, max_size=12), st.integers(1, 500), st.integers(1, 64)
)
def test_without_windows_or_tolerance_it_is_the_keda_formula(
    lags: list[int], threshold: int, top: int
) -> None:
    pol = AutoscalePolicy(
        lag_threshold=threshold, min_workers=1, max_workers=top, tolerance=0.0,
        scale_down_stabilization_s=0.0, scale_up_stabilization_s=0.0,
    )  # fmt: skip
    decision = decide([PartitionLoad(lag) for lag in lags], current_workers=1, now=0.0, policy=pol)
    expected = min(max(min(math.ceil(sum(lags) / threshold), len(lags)), 1), top)
    assert decision.desired_workers == expected
