"""Errors of the cost model, rooted in one base class that carries context."""

from __future__ import annotations


class CostModelError(Exception):
    """Base of every cost model error."""


class TerraformReadError(CostModelError):
    """A Terraform file could not be read or parsed."""


class PriceBookError(CostModelError):
    """The price book is malformed or a price is missing."""
