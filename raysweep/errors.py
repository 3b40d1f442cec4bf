"""Exceptions raised by raysweep.

Every error that a user can cause carries data (a key path, the bad value, a hint) apart from
its rendering, so the CLI can print it with rich and the Python API can show it as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "Issue",
    "ProgramFailedError",
    "ProgramStartError",
    "RaysweepError",
    "RaysweepWarning",
    "ReportLineError",
    "SweepConfigError",
    "UnsupportedSweepError",
]


def _rebuild(cls: type[BaseException], args: tuple[Any, ...]) -> BaseException:
    """Make an exception of ``cls`` with ``args`` without calling its ``__init__``."""
    return cls.__new__(cls, *args)


class RaysweepError(Exception):
    """Base class of every error raised on purpose by raysweep.

    Its instances survive ``copy.copy``, ``copy.deepcopy`` and ``pickle`` whatever arguments
    a subclass's ``__init__`` takes: errors raised in a trial cross Ray's process boundary
    pickled, and Ray copies them (``copy.copy``) before showing them. The default would call
    ``__init__`` with the message alone, which fails for a subclass with other arguments.
    """

    def __reduce__(self) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
        # Rebuilt from the message (args) and every attribute (the fields, added notes);
        # BaseException.__setstate__ restores the attributes.
        return _rebuild, (type(self), self.args), self.__dict__


@dataclass(frozen=True)
class Issue:
    """One problem found in a sweep configuration.

    Args:
        path: Dotted key path of the offending entry (``parameters.lr.max``); ``""`` for the
            document itself.
        message: What is wrong, naming the value that broke the rule.
        hint: How to fix it, or ``None``.
        line: 1-based line in the YAML file, where known.
    """

    path: str
    message: str
    hint: str | None = None
    line: int | None = None

    def render(self) -> str:
        """Return the issue as one line of text, ``path: message (hint)``."""
        where = self.path or "<top level>"
        if self.line is not None:
            where = f"{where} (line {self.line})"
        text = f"{where}: {self.message}"
        if self.hint:
            text = f"{text}. {self.hint}"
        return text


class SweepConfigError(RaysweepError, ValueError):
    """Raised when a sweep configuration is invalid; holds every problem found at once.

    Raised by :func:`raysweep.load` and by everything that accepts a configuration.
    """

    def __init__(self, issues: tuple[Issue, ...] | list[Issue], source: str | None = None):
        self.issues = tuple(issues)
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        """Return a multi-line message: a header, then one line per issue."""
        n = len(self.issues)
        head = f"{self.source or 'sweep config'}: {n} problem{'s' if n != 1 else ''}"
        return "\n".join([head, *("  " + issue.render() for issue in self.issues)])


class UnsupportedSweepError(SweepConfigError):
    """Raised for configurations only W&B's hosted service can run (Launch jobs, a Launch
    ``scheduler: {job: ...}``, ``method: custom`` without a ``scheduler`` engine)."""


class RaysweepWarning(UserWarning):
    """Warning issued by raysweep when something is probably not what the user meant.

    :func:`log` issues it once per process when it is called outside a raysweep trial.
    """


class ReportLineError(RaysweepError, ValueError):
    """Raised by :func:`parse_report_line` for a line with the prefix but a bad payload.

    Args:
        reason: What is wrong with the payload, naming the offending key where there is one.
        tag: The report prefix the line started with (``@raysweep``).
    """

    def __init__(self, reason: str, tag: str):
        self.reason = reason
        self.tag = tag
        super().__init__(f"invalid {tag} report line: {reason}")


class ProgramStartError(RaysweepError):
    """Raised by :func:`run_program` when the program cannot be started.

    Args:
        program: ``argv[0]`` as given.
        cwd: The working directory it was started in.
        reason: What went wrong.
        hint: How to fix it, or ``None``.
    """

    def __init__(self, program: str, cwd: str, reason: str, hint: str | None = None):
        self.program = program
        self.cwd = cwd
        self.reason = reason
        self.hint = hint
        text = f"cannot start program {program!r} in {cwd!r}: {reason}"
        if hint:
            text = f"{text}. {hint}"
        super().__init__(text)


class ProgramFailedError(RaysweepError):
    """A trial's program exited with a non-zero status. The message carries its last lines."""
