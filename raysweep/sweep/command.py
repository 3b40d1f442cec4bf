"""Turn a sweep's ``command`` and one trial's parameters into an argv list, as W&B's agent does.

The result is always a list of strings handed to :func:`subprocess.Popen` without a shell, so a
value such as ``"a b; rm -rf ~"`` reaches the program as one argument and nothing in it is
executed. :func:`display_command` quotes it for logs only.

The default command is ``${env} ${interpreter} ${program} ${args}``
(``/usr/bin/env python train.py --lr=0.01``).

Whole-token macros
    These expand only when the macro is the *entire* list item, and then become zero or more
    argv items. Examples use ``{a: True, b: False, c: 1, d: None}``.

    ===========================  ==============================================================
    Macro                        Expands to
    ===========================  ==============================================================
    ``${env}``                   ``/usr/bin/env`` (the ``env_cmd`` argument); nothing if it is
                                 ``None``, as on Windows
    ``${interpreter}``           the ``interpreter`` argument (W&B uses ``python`` from PATH)
    ``${program}``               the sweep's ``program`` key; an error if it is not set
    ``${args}``                  ``--a=True --b=False --c=1 --d=None``
    ``${args_no_equals}``        ``--a True --b False --c 1 --d None`` (flag and value are
                                 separate items)
    ``${args_no_hyphens}``       ``a=True b=False c=1 d=None`` (Hydra overrides)
    ``${args_no_boolean_flags}`` ``--a --c=1 --d=None`` (``True`` becomes a bare flag,
                                 ``False`` is left out)
    ``${args_append_hydra}``     ``+a=True +b=False +c=1 +d=None``
    ``${args_override_hydra}``   ``++a=True ++b=False ++c=1 ++d=None``
    ``${args_json}``             one item: ``{"a": true, "b": false, "c": 1, "d": null}``
    ``${args_json_file}``        one item: the path of a JSON file holding the same object
    ``${envvar:NAME}``           the value of environment variable ``NAME`` (one item); an
                                 error if it is not set
    ``${<parameter>}``           ``str()`` of that top-level parameter's value (one item)
    anything else, ``${x}``      nothing (W&B drops unknown whole-token macros)
    ===========================  ==============================================================

Macros inside a longer item
    Only two kinds expand inside an item such as ``--batch_size=${batch_size}``:

    - ``${envvar:NAME}``, where ``NAME`` matches ``[A-Z0-9_]*``. An unset variable is an
      error when the trial starts (W&B passes the literal text ``NAME`` instead, which turns a
      forgotten ``export`` into a wrong argument nobody notices).
    - ``${<parameter>}``, where ``<parameter>`` is a top-level parameter name; it becomes
      ``str()`` of the value (the "custom macros" of the W&B docs).

    Any other ``${x}`` inside an item, including the whole-token macros above, is kept as
    literal text. :func:`unknown_macros` lists these, and the config check warns about each
    (a misspelled ``${argz}`` would otherwise run every trial on the program's defaults).

Values and items
    - Only top-level parameters become arguments. A nested ``parameters:`` block arrives as a
      dict and is formatted with ``str()``: ``--opt={'lr': 0.001}``.
    - Every value is formatted with Python's ``str()``: ``1e-05``, ``True``, ``None``,
      ``[1, 2]``. JSON macros use :func:`json.dumps` instead (``true``, ``null``).
    - A list item that is not a string (YAML ``- 1.99999``) becomes ``str(item)``.
    - An item is never split on whitespace: a YAML folded string holding several flags reaches
      the program as one argument, exactly as with W&B's agent. Write one flag per list item.
    - A missing or empty ``command`` means the default command.

When a parameter is named like a built-in macro (``args``, ``env``, ...), the built-in wins for a
whole-token macro; inside a longer item the parameter value is used, since built-ins never
expand there.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from raysweep.errors import Issue, RaysweepError, SweepConfigError

__all__ = [
    "DEFAULT_COMMAND",
    "MACROS",
    "build_argv",
    "display_command",
    "missing_program_issue",
    "unknown_macros",
    "uses_program",
]

DEFAULT_COMMAND: tuple[str, ...] = ("${env}", "${interpreter}", "${program}", "${args}")
"""The command W&B's agent runs when a sweep has no ``command`` key."""

_ARG_FORMATTERS: dict[str, Callable[[str, Any], list[str]]] = {
    "args": lambda k, v: [f"--{k}={v}"],
    "args_no_equals": lambda k, v: [f"--{k}", str(v)],
    "args_no_hyphens": lambda k, v: [f"{k}={v}"],
    "args_no_boolean_flags": lambda k, v: (
        ([f"--{k}"] if v else []) if isinstance(v, bool) else [f"--{k}={v}"]
    ),
    "args_append_hydra": lambda k, v: [f"+{k}={v}"],
    "args_override_hydra": lambda k, v: [f"++{k}={v}"],
}

MACROS: frozenset[str] = frozenset(
    {"env", "interpreter", "program", "args_json", "args_json_file", *_ARG_FORMATTERS}
)
"""Names of the built-in whole-token macros (without ``${`` and ``}``)."""

_MACRO = re.compile(r"\$\{([^{}]*)\}")
# W&B's pattern for environment variables: upper case, digits and underscores only.
_ENVVAR = re.compile(r"envvar:([A-Z0-9_]*)")


def _tokens(command: Sequence[object] | None) -> list[str]:
    """Return the command's items as strings, the default command if it is empty."""
    if isinstance(command, (str, bytes)):
        raise SweepConfigError(
            [
                Issue(
                    "command",
                    f"must be a list of arguments, but got the string {command!r}",
                    "Write one argument per list item, e.g. [${env}, ${interpreter}, "
                    "${program}, ${args}]",
                )
            ]
        )
    return [str(item) for item in (command or DEFAULT_COMMAND)]


def uses_program(command: Sequence[object] | None) -> bool:
    """Whether the command (or the default one, for ``None``) runs ``${program}``.

    Examples:
        >>> uses_program(None), uses_program(["python", "train.py"])
        (True, False)
    """
    return any(token == "${program}" for token in _tokens(command))


def missing_program_issue() -> Issue:
    """The problem of a command that runs ``${program}`` in a sweep without ``program``."""
    return Issue(
        "program",
        "missing: the command runs ${program}, but the sweep names no program",
        "Add `program: train.py`, or pass a Python function to raysweep.run().",
    )


def _envvar(name: str, environ: Mapping[str, str], node: str | None) -> str:
    """The value of an ``${envvar:NAME}`` macro; an unset variable is an error, not its name."""
    if name in environ:
        return environ[name]
    where = f" on node {node}" if node else ""
    raise RaysweepError(
        f"command: ${{envvar:{name}}}: environment variable {name} is not set{where}; set it "
        "where the trials start (the Ray workers' environment) or remove the macro"
    )


def _substitute(
    token: str, params: Mapping[str, Any], environ: Mapping[str, str], node: str | None
) -> str:
    """Expand ``${envvar:NAME}`` and ``${<parameter>}`` inside a token; keep others literal."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        env = _ENVVAR.fullmatch(name)
        if env:
            return _envvar(env.group(1), environ, node)
        if name in params:
            return str(params[name])
        return match.group(0)

    return _MACRO.sub(replace, token)


def build_argv(
    command: Sequence[object] | None,
    *,
    program: str | None,
    params: Mapping[str, Any],
    interpreter: str,
    env_cmd: str | None = "/usr/bin/env",
    args_json_file: str | None = None,
    environ: Mapping[str, str] | None = None,
    node: str | None = None,
) -> list[str]:
    """Build the argv list that runs one trial, expanding the command's macros.

    The macro table is in this module's docstring.

    Args:
        command: The sweep's ``command`` list, or ``None``/empty for :data:`DEFAULT_COMMAND`.
            Items that are not strings are converted with ``str()``.
        program: The sweep's ``program`` key, or ``None`` if it has none.
        params: The trial's parameter values by top-level name; nested parameters are dicts.
            Values should be plain Python objects (``str()`` and ``json.dumps`` format them).
        interpreter: What ``${interpreter}`` becomes (one item, never split).
        env_cmd: What ``${env}`` becomes; ``None`` drops it.
        args_json_file: Path that ``${args_json_file}`` becomes; required only if it is used.
        environ: Environment for ``${envvar:NAME}``; defaults to :data:`os.environ`.
        node: The machine the trial runs on, named in the error for an unset variable.

    Returns:
        The argv list, one string per argument, for a subprocess started without a shell.

    Raises:
        SweepConfigError: The command uses ``${program}`` but ``program`` is ``None``, or
            ``command`` is a string rather than a list.
        RaysweepError: The command uses ``${envvar:NAME}`` and ``NAME`` is not in ``environ``
            (one line, naming the variable and ``node``).
        ValueError: The command uses ``${args_json_file}`` but ``args_json_file`` is ``None``
            (the caller must write the file first).

    Examples:
        >>> build_argv(None, program="train.py", params={"lr": 1e-05, "opt": "adam"},
        ...            interpreter="python")
        ['/usr/bin/env', 'python', 'train.py', '--lr=1e-05', '--opt=adam']
        >>> build_argv(["${program}", "${args_no_boolean_flags}"], program="t.py",
        ...            params={"a": True, "b": False, "c": 1}, interpreter="python")
        ['t.py', '--a', '--c=1']
        >>> build_argv(["run", "--bs=${batch_size}", "${args_json}"], program=None,
        ...            params={"batch_size": 32}, interpreter="python")
        ['run', '--bs=32', '{"batch_size": 32}']
        >>> build_argv(["echo", "${envvar:DATA}", "${nope}"], program=None,
        ...            params={}, interpreter="python", environ={"DATA": "/d"})
        ['echo', '/d']
    """
    tokens = _tokens(command)
    env_vars = os.environ if environ is None else environ
    argv: list[str] = []
    for token in tokens:
        whole = _MACRO.fullmatch(token)
        if whole is None:
            argv.append(_substitute(token, params, env_vars, node))
            continue
        name = whole.group(1)
        if name in _ARG_FORMATTERS:
            fmt = _ARG_FORMATTERS[name]
            for key, value in params.items():
                argv.extend(fmt(key, value))
        elif name == "args_json":
            argv.append(json.dumps(dict(params)))
        elif name == "env":
            if env_cmd is not None:
                argv.append(env_cmd)
        elif name == "interpreter":
            argv.append(interpreter)
        elif name == "program":
            if program is None:
                raise SweepConfigError([missing_program_issue()])
            argv.append(program)
        elif name == "args_json_file":
            if args_json_file is None:
                raise ValueError(
                    "`args_json_file` must be given when the command uses ${args_json_file}, "
                    "but got None."
                )
            argv.append(args_json_file)
        elif _ENVVAR.fullmatch(name) or name in params:
            argv.append(_substitute(token, params, env_vars, node))
        # Any other whole-token macro expands to nothing, as in W&B's agent.
    return argv


def unknown_macros(
    command: Sequence[object] | None, params: Mapping[str, Any] | Iterable[str]
) -> list[str]:
    """Return the ``${...}`` macros of a command that :func:`build_argv` will not expand.

    These are whole-token macros that are neither built in, ``envvar:NAME`` nor a parameter
    (they expand to nothing), and macros inside a longer item that are neither ``envvar:NAME``
    nor a parameter (they stay as literal text; built-in macros do not expand there either).
    The config check calls this to warn; ``build_argv`` itself never complains.

    Args:
        command: The sweep's ``command`` list, or ``None`` for the default command.
        params: The top-level parameter names (a mapping's keys are used).

    Returns:
        Macro names without ``${`` and ``}``, once each, in order of first appearance.

    Examples:
        >>> unknown_macros(["${env}", "--bs=${batch_size}", "--x=${lr}", "${nope}"], ["lr"])
        ['batch_size', 'nope']
        >>> unknown_macros(["--p=${program}", "${envvar:HOME}", "${envvar:home}"], [])
        ['program', 'envvar:home']
        >>> unknown_macros(None, {})
        []
    """
    names = set(params)
    found: dict[str, None] = {}
    for token in _tokens(command):
        whole = _MACRO.fullmatch(token)
        if whole is not None:
            name = whole.group(1)
            if name not in MACROS and name not in names and not _ENVVAR.fullmatch(name):
                found[name] = None
            continue
        for match in _MACRO.finditer(token):
            name = match.group(1)
            if name not in names and not _ENVVAR.fullmatch(name):
                found[name] = None
    return list(found)


def display_command(argv: Sequence[str]) -> str:
    """Return argv as one shell-quoted line, for logs and messages only (never to run).

    Examples:
        >>> display_command(["python", "train.py", "--name=a b", "--x=$(id)"])
        "python train.py '--name=a b' '--x=$(id)'"
    """
    return shlex.join(argv)
