"""Event types: payload models and the registry that binds each type to its topic, key and scope."""

from dpp_shared.events.catalog import REGISTRY
from dpp_shared.events.registry import EventRegistry, EventType

__all__ = ["REGISTRY", "EventRegistry", "EventType"]
