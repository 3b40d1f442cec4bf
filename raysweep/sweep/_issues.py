"""The collector every section check writes to, and the wording its messages share.

A check never stops at the first problem: it records an :class:`~raysweep.errors.Issue` (key
path, message, hint, line in the file) and goes on, so one run of ``raysweep validate`` lists
every mistake, as W&B's own validator does.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from raysweep.errors import Issue
from raysweep.numeric import is_integer, is_number

__all__ = ["IssueCollector", "describe", "did_you_mean"]


def describe(v: Any) -> str:
    """Name a bad value in a message: its type where the repr would mislead (``'3'``, ``True``)."""
    if isinstance(v, str):
        return f"the string {v!r}"
    if isinstance(v, bool):
        return f"the boolean {v}"
    if v is None:
        return "nothing (null)"
    if isinstance(v, Mapping):
        return "a mapping" if v else "an empty mapping"
    if isinstance(v, list):
        return "a list" if v else "an empty list"
    return repr(v)


def did_you_mean(word: str, options: tuple[str, ...] | list[str]) -> str | None:
    """Return a "Did you mean ...?" hint for a close match among ``options``, or None."""
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=0.75)
    return f"Did you mean {match[0]!r}?" if match else None


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class IssueCollector:
    """Collects the errors and warnings of one document, each with its line when known.

    Attributes:
        lines: Key path -> line number in the file (empty for a dict).
        issues: Errors found so far; any error refuses the document.
        warnings: Problems that do not stop the sweep.
        unsupported: True once a problem says the sweep needs W&B's hosted service.
    """

    def __init__(self, lines: dict[str, int]) -> None:
        self.lines = lines
        self.issues: list[Issue] = []
        self.warnings: list[Issue] = []
        self.unsupported = False

    def error(self, path: str, message: str, hint: str | None = None) -> None:
        self.issues.append(Issue(path, message, hint, self.lines.get(path)))

    def warn(self, path: str, message: str, hint: str | None = None) -> None:
        self.warnings.append(Issue(path, message, hint, self.lines.get(path)))

    def refuse(self, path: str, message: str, hint: str | None = None) -> None:
        """Record an error that only W&B's hosted service could run around."""
        self.unsupported = True
        self.error(path, message, hint)

    def unknown_keys(
        self, mapping: Mapping[Any, Any], allowed: tuple[str, ...], prefix: str, what: str
    ) -> None:
        """Report each key of ``mapping`` not in ``allowed``, with a close match or the list."""
        for key in mapping:
            if key in allowed:
                continue
            path = f"{prefix}.{key}" if prefix else str(key)
            hint = did_you_mean(str(key), allowed)
            if hint is None:
                hint = f"{what} takes: {', '.join(allowed)}."
            self.error(path, f"unknown key {str(key)!r}", hint)

    def number(self, m: Mapping[str, Any], key: str, path: str, *, integer: bool = False) -> Any:
        """Return ``m[key]`` if it is a number (an integer if asked), else report it and
        return None."""
        v = m[key]
        ok = is_integer(v) if integer else is_number(v)
        if ok:
            return v
        if integer and isinstance(v, float) and is_number(v):
            self.error(path, f"must be an integer, got {v!r}")
        elif isinstance(v, str) and _looks_numeric(v):
            self.error(
                path,
                f"must be a number, got {describe(v)}",
                "Remove the quotes so YAML reads it as a number.",
            )
        else:
            kind = "an integer" if integer else "a number"
            self.error(path, f"must be {kind}, got {describe(v)}")
        return None

    def optional_str(
        self, data: Mapping[str, Any], key: str, path: str | None = None
    ) -> str | None:
        """Return ``data[key]`` if it is text, None if absent or null; report anything else."""
        v = data.get(key)
        if v is None:
            return None
        if not isinstance(v, str):
            self.error(path or key, f"must be text, got {describe(v)}")
            return None
        return v
