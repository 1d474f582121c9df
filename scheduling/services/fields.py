"""The writable fields of a create or an update: what a caller passes is narrowed to the fields
a service lets it write, the same way for every entity."""

from __future__ import annotations

from collections.abc import Iterable


def writable(fields: dict, allowed: Iterable[str]) -> dict:
    """The items of `fields` that name an allowed field (others are left out, not refused)."""
    allowed = set(allowed)
    return {name: value for name, value in fields.items() if name in allowed}


def assign(instance, fields: dict, allowed: Iterable[str]):
    """Set the allowed fields of `fields` on `instance`; returns it (unsaved)."""
    for name, value in writable(fields, allowed).items():
        setattr(instance, name, value)
    return instance
