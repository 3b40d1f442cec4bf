"""Warn about the ``${...}`` macros of ``command:`` that will not expand.

W&B's agent drops an unknown whole-item macro and passes one inside a longer item through as
text, without a word: ``${argz}`` runs every trial on the program's defaults while the results
show the sampled values. raysweep runs the command the same way, so it warns here, where
``raysweep validate`` and ``raysweep run`` show the config's warnings, with the macro it
probably meant.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence

from raysweep.errors import Issue
from raysweep.sweep._issues import IssueCollector
from raysweep.sweep.command import MACROS, unknown_macros
from raysweep.sweep.space import SearchSpace

__all__ = ["check_macros"]

# The name part of ``${envvar:NAME}`` that W&B accepts.
_VAR_NAME = re.compile(r"[A-Z0-9_]*")


def check_macros(c: IssueCollector, command: Sequence[object] | None, space: SearchSpace) -> None:
    """Warn once per macro of ``command`` that :func:`~raysweep.sweep.command.build_argv` will
    drop or pass literally, at key path ``command`` (the line of the item), with a hint."""
    names = sorted({path[0] for path, _ in space})
    nested = {sep.join(path): path[0] for path, _ in space if len(path) > 1 for sep in "./"}
    seen: set[tuple[str, bool]] = set()
    for i, item in enumerate(command or ()):
        token = str(item)
        for name in unknown_macros([token], names):
            whole = token == f"${{{name}}}"
            if (name, whole) in seen:
                continue
            seen.add((name, whole))
            message, hint = _explain(name, token, whole, names, nested)
            # The key path stays `command`; the line is the item's, where the file has one.
            line = c.lines.get(f"command[{i}]", c.lines.get("command"))
            c.warnings.append(Issue("command", message, hint, line))


def _explain(
    name: str, token: str, whole: bool, names: list[str], nested: dict[str, str]
) -> tuple[str, str]:
    """The warning and its hint for one macro that will not expand."""
    macro = f"`${{{name}}}`"
    if whole:
        message = f"{macro} is neither a built-in macro nor a parameter: it expands to nothing"
    elif name in MACROS:
        return (
            f"{macro} in `{token}` stays literal text: built-in macros expand only as a whole "
            "list item",
            f"Make {macro} a list item of its own.",
        )
    else:
        message = f"{macro} in `{token}` is not a parameter: the program gets it as literal text"
    if name.startswith("envvar:"):
        var = name[len("envvar:"):]
        fix = var.upper() if _VAR_NAME.fullmatch(var.upper()) else "NAME"
        return (
            f"{macro} is not expanded: an environment variable's name must be upper case "
            "letters, digits and _",
            f"Write `${{envvar:{fix}}}`.",
        )
    if name in nested:
        return (
            message,
            f"Only top-level parameters expand; `${{{nested[name]}}}` gives the whole "
            f"`{nested[name]}` mapping.",
        )
    close = _closest(name, [*MACROS, *names] if whole else names)
    if close is not None:
        return message, f"Did you mean `${{{close}}}`?"
    if _VAR_NAME.fullmatch(name):
        return message, f"For an environment variable, write `${{envvar:{name}}}`."
    if whole:
        return message, "Use a built-in macro such as `${args}`, or a parameter: " + _listed(
            names
        )
    return message, "The parameters are: " + _listed(names)


def _closest(name: str, options: Iterable[str]) -> str | None:
    match = difflib.get_close_matches(name, sorted(set(options)), n=1, cutoff=0.7)
    return match[0] if match else None


def _listed(names: list[str]) -> str:
    return ", ".join(names) + "." if names else "(none)."
