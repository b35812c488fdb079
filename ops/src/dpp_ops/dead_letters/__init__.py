"""Dead letters: one record type; the box `dpp dlq` lists and replays; the page's recent view."""

from dpp_ops.dead_letters.box import DeadLetterBox, Replay
from dpp_ops.dead_letters.letter import DeadLetter
from dpp_ops.dead_letters.recent import DeadLetterReader

__all__ = ["DeadLetter", "DeadLetterBox", "DeadLetterReader", "Replay"]
