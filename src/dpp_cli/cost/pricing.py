"""The price book: unit prices of one region with the AWS page each comes from."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dpp_cli.cost.errors import PriceBookError


@dataclass(frozen=True)
class Price:
    """One unit price and where it is published."""

    key: str
    usd: float
    unit: str
    page: str
    source: str
    checked: str = ""  # how the value was verified when it was last edited


@dataclass(frozen=True)
class PriceBook:
    """Prices of one region at one date, free resource types and free tiers."""

    region: str
    as_of: str
    hours_per_month: float
    prices: dict[str, Price]
    free_types: dict[str, str]
    free_tiers: list[str]
    note: str

    def price(self, key: str) -> Price:
        try:
            return self.prices[key]
        except KeyError:
            raise PriceBookError(
                f"no price entry {key!r} in the {self.region} price book"
            ) from None


def load_price_book(path: Path) -> PriceBook:
    try:
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PriceBookError(f"cannot read price book {path}: {exc}") from exc
    prices = {}
    for key, entry in raw.get("prices", {}).items():
        missing = {"usd", "unit", "page", "source"} - entry.keys()
        if missing:
            raise PriceBookError(f"{path}: price {key} lacks {sorted(missing)}")
        if not str(entry["source"]).startswith("https://aws.amazon.com/"):
            raise PriceBookError(f"{path}: price {key} must cite an aws.amazon.com pricing page")
        prices[key] = Price(
            key,
            float(entry["usd"]),
            entry["unit"],
            entry["page"],
            entry["source"],
            entry.get("checked", ""),
        )
    return PriceBook(
        region=raw["region"],
        as_of=raw["as_of"],
        hours_per_month=float(raw["hours_per_month"]),
        prices=prices,
        free_types=dict(raw.get("free_types", {})),
        free_tiers=list(raw.get("free_tiers", [])),
        note=raw.get("note", ""),
    )
