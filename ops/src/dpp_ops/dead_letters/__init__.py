"""Dead letters: one record type; the box `dpp dlq` lists and replays; the page's recent view."""

from dpp_ops.dead_letters.box import DeadLetterBox, Replay
from dpp_ops.dead_letters.ledger import REPLAYED_TOPIC, ReplayMark
from dpp_ops.dead_letters.letter import DeadLetter
from dpp_ops.dead_letters.recent import DeadLetterReader
from dpp_ops.dead_letters.selection import LetterFilter

__all__ = [
    "REPLAYED_TOPIC",
    "DeadLetter",
    "DeadLetterBox",
    "DeadLetterReader",
    "LetterFilter",
    "Replay",
    "ReplayMark",
]
