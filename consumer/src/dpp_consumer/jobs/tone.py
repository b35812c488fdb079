"""The tone classification job: each of a persona's texts to formal, casual, enthusiastic or
negative, with every label's probability."""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel

from dpp_consumer.context import JobContext
from dpp_consumer.jobs.registry import job
from dpp_shared.events.payloads import PersonaToneClassificationRequestedV1


class TextTone(BaseModel):
    label: str
    confidence: float
    scores: dict[str, float]


class ToneResult(BaseModel):
    persona_id: str
    dominant: str
    tones: list[TextTone]


@job(
    "persona.tone.classification.requested.v1",
    result=ToneResult,
    job_type="tone-classification",
    timeout_s=300.0,
)
def classify_persona_tone(ctx: JobContext[PersonaToneClassificationRequestedV1]) -> ToneResult:
    from dpp_consumer.ml.tone import classify_tone  # noqa: PLC0415 - lazy model import

    scores = classify_tone(list(ctx.payload.texts))
    tones = [TextTone(label=s.label, confidence=s.confidence, scores=s.scores) for s in scores]
    # The persona's dominant tone: the most frequent label, ties to the more confident one.
    counts = Counter(tone.label for tone in tones)
    dominant = max(tones, key=lambda tone: (counts[tone.label], tone.confidence)).label
    return ToneResult(persona_id=ctx.payload.persona_id, dominant=dominant, tones=tones)
