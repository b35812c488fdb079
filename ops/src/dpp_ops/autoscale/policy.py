"""Pure worker-count decision from partition lags, with KEDA's Kafka-scaler and HPA semantics."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dpp_ops.lag.model import GroupLag


class AutoscalePolicy(BaseModel):
    """How many workers a consumer group should run for its lag.

    Field names mirror the KEDA Kafka trigger (``lagThreshold``...) and the HPA ``behavior``
    block so :mod:`dpp_ops.autoscale.keda` can render the same policy as a ScaledObject.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    lag_threshold: int = Field(default=100, gt=0)
    """Target lag per worker: desired = ceil(total lag / lag_threshold)."""
    activation_lag_threshold: int = Field(default=0, ge=0)
    """The group is *active* only while total lag is above this; decides 0 <-> 1 only."""
    min_workers: int = Field(default=1, ge=0)
    """Floor. 0 enables scale to zero when inactive for ``cooldown_s``."""
    max_workers: int = Field(default=8, ge=1)
    """Ceiling, always applied."""
    allow_idle_consumers: bool = False
    """Allow more workers than partitions (the extra ones would sit idle)."""
    limit_to_partitions_with_lag: bool = False
    """Cap workers at the number of partitions whose lag is above 0."""
    offset_reset_policy: Literal["earliest", "latest"] = "earliest"
    """Consumers' ``auto.offset.reset``; with ``latest`` a partition with no commit counts 1."""
    scale_to_zero_on_invalid_offset: bool = False
    """A partition with no committed offset counts 0 instead of keeping a worker."""
    tolerance: float = Field(default=0.1, ge=0, lt=1)
    """HPA tolerance: keep the current count while lag/(threshold*current) is within 1 +- this."""
    scale_up_stabilization_s: float = Field(default=0.0, ge=0)
    """Scale up only to the lowest recommendation of this window (HPA default 0)."""
    scale_down_stabilization_s: float = Field(default=300.0, ge=0)
    """Scale down only to the highest recommendation of this window (HPA default 300)."""
    cooldown_s: float = Field(default=300.0, ge=0)
    """Inactive this long before scaling to zero (KEDA ``cooldownPeriod``)."""
    polling_interval_s: int = Field(default=30, gt=0)
    """How often lag is read (KEDA ``pollingInterval``); informational for :func:`decide`."""

    @model_validator(mode="after")
    def _coherent(self) -> AutoscalePolicy:
        if self.min_workers > self.max_workers:
            raise ValueError("min_workers must not exceed max_workers")
        if self.allow_idle_consumers and self.limit_to_partitions_with_lag:
            raise ValueError(
                "allow_idle_consumers and limit_to_partitions_with_lag are mutually exclusive"
            )
        return self


@dataclass(frozen=True, slots=True)
class PartitionLoad:
    """One partition's input to the decision."""

    lag: int
    committed: bool = True
    """False when the group has no committed offset on the partition (KEDA: invalid offset)."""


@dataclass(frozen=True, slots=True)
class AutoscaleState:
    """What :func:`decide` remembers between calls; pass the previous decision's ``state``."""

    recommendations: tuple[tuple[float, int], ...] = ()
    """(time, unstabilised recommendation) within the longer stabilisation window."""
    last_active_at: float | None = None
    """Last time total lag was above the activation threshold."""


@dataclass(frozen=True, slots=True)
class ScaleDecision:
    """The outcome of one :func:`decide` call."""

    desired_workers: int
    current_workers: int
    recommended_workers: int
    """Before stabilisation: ceil(total/threshold), capped and clamped."""
    total_lag: int
    partitions_with_lag: int
    partition_count: int
    active: bool
    reason: str
    state: AutoscaleState = field(default_factory=AutoscaleState)


def loads_of(lag: GroupLag) -> list[PartitionLoad]:
    """Turn a reader result into decision input."""
    return [PartitionLoad(p.lag_messages, p.committed_offset is not None) for p in lag.partitions]


def decide(
    loads: Sequence[PartitionLoad],
    *,
    current_workers: int,
    now: float,
    policy: AutoscalePolicy,
    state: AutoscaleState | None = None,
    partition_count: int | None = None,
) -> ScaleDecision:
    """Desired worker count for a group, as KEDA's Kafka scaler plus the HPA would choose.

    1. Per partition lag; a partition with no committed offset counts 0 with
       ``scale_to_zero_on_invalid_offset``, else 1 under ``latest`` (so a worker exists to
       commit one), else its lag from the log start under ``earliest``.
    2. Active when total lag > ``activation_lag_threshold``.
    3. Inactive with ``min_workers == 0``: 0 once inactive for ``cooldown_s`` (or if
       already at 0); until then at least 1.
    4. Otherwise recommendation = ceil(total / lag_threshold), capped at the partition count
       (or partitions with lag) unless ``allow_idle_consumers``, kept at the current count
       inside the HPA tolerance, clamped to [max(min_workers, 1), max_workers].
    5. HPA stabilisation: result = current count raised to the lowest recommendation of the
       scale-up window and lowered to the highest of the scale-down window.
    """
    state = state or AutoscaleState()
    partitions = len(loads) if partition_count is None else partition_count
    if partitions < len(loads):
        raise ValueError("partition_count is smaller than the number of loads")
    lags = [_effective_lag(load, policy) for load in loads]
    total = sum(lags)
    with_lag = sum(1 for lag in lags if lag > 0)
    active = total > policy.activation_lag_threshold
    last_active = now if active else state.last_active_at

    def outcome(desired: int, recommended: int, reason: str, kept: AutoscaleState) -> ScaleDecision:
        return ScaleDecision(
            desired_workers=desired,
            current_workers=current_workers,
            recommended_workers=recommended,
            total_lag=total,
            partitions_with_lag=with_lag,
            partition_count=partitions,
            active=active,
            reason=reason,
            state=kept,
        )

    summary = (
        f"total lag {total} on {partitions} partitions ({with_lag} lagging), "
        f"threshold {policy.lag_threshold}"
    )

    if not active and policy.min_workers == 0:
        idle_for = None if last_active is None else now - last_active
        if current_workers == 0 or idle_for is None or idle_for >= policy.cooldown_s:
            why = (
                f"{summary}: inactive (lag <= activation {policy.activation_lag_threshold})"
                f"{'' if idle_for is None else f' for {idle_for:.0f}s'}; scaled to zero"
            )
            return outcome(0, 0, why, AutoscaleState((), last_active))

    floor = max(policy.min_workers, 1)
    notes: list[str] = []
    upper = None
    if policy.limit_to_partitions_with_lag:
        upper = with_lag
    elif not policy.allow_idle_consumers:
        upper = partitions
    capped_total = total if upper is None else min(total, upper * policy.lag_threshold)
    raw = math.ceil(capped_total / policy.lag_threshold)
    notes.append(f"ceil({capped_total}/{policy.lag_threshold}) = {raw}")
    if capped_total < total:
        kind = "lagging partitions" if policy.limit_to_partitions_with_lag else "partitions"
        notes.append(f"capped at {upper} {kind}")
    if current_workers > 0:
        ratio = capped_total / (policy.lag_threshold * current_workers)
        if raw != current_workers and abs(ratio - 1.0) <= policy.tolerance:
            raw = current_workers
            notes.append(f"within tolerance {policy.tolerance}, keep {current_workers}")
    clamped = min(max(raw, floor), policy.max_workers)
    if clamped != raw:
        notes.append(f"clamped to [{floor}, {policy.max_workers}] = {clamped}")
    recommendation = clamped

    horizon = now - max(policy.scale_up_stabilization_s, policy.scale_down_stabilization_s)
    history = [(t, r) for t, r in state.recommendations if t > horizon and t < now]
    up_from = now - policy.scale_up_stabilization_s
    down_from = now - policy.scale_down_stabilization_s
    up = min([recommendation] + [r for t, r in history if t > up_from])
    down = max([recommendation] + [r for t, r in history if t > down_from])
    desired = min(max(current_workers, up), down)
    if desired > recommendation and desired == current_workers:
        notes.append(
            f"scale-down held at {desired}: highest recommendation of the last "
            f"{policy.scale_down_stabilization_s:.0f}s is {down}"
        )
    elif desired < recommendation and desired == current_workers:
        notes.append(
            f"scale-up held at {desired}: lowest recommendation of the last "
            f"{policy.scale_up_stabilization_s:.0f}s is {up}"
        )
    elif desired != recommendation:
        notes.append(f"stabilised to {desired} (window min {up}, max {down})")
    desired = min(max(desired, floor), policy.max_workers)

    return outcome(
        desired,
        recommendation,
        f"{summary}: " + "; ".join(notes) + f" -> {desired}",
        AutoscaleState((*history, (now, recommendation)), last_active),
    )


def _effective_lag(load: PartitionLoad, policy: AutoscalePolicy) -> int:
    if load.committed:
        return max(0, load.lag)
    if policy.scale_to_zero_on_invalid_offset:
        return 0
    if policy.offset_reset_policy == "latest":
        return 1
    return max(0, load.lag)
