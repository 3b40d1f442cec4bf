"""Safe YAML loading for sweep files, with the pitfalls of PyYAML fixed.

- ``1e-5`` and ``3e6`` (no dot) load as floats. PyYAML follows YAML 1.1 and reads them as
  strings, which W&B's own validator then crashes on; YAML 1.2 and JSON read them as numbers.
- A key written twice in one mapping is reported (PyYAML silently keeps the last one).
- Syntax errors and tabs are reported with their line, never as a traceback.
- Every key path is mapped to its line, so configuration errors can point into the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from raysweep.errors import Issue

__all__ = ["LoadedYaml", "load_yaml"]

# YAML 1.2 core-schema floats that YAML 1.1 misses: an exponent without a dot (1e-5, 3E6) or
# without a sign (1.5e5), and a leading dot (.5e3).
_FLOAT_NO_DOT = re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$")


class _SweepLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 floats (see the module docstring)."""


# Copy the resolver table so adding our float rule does not change PyYAML for other users.
_SweepLoader.yaml_implicit_resolvers = {
    k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_SweepLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", _FLOAT_NO_DOT, list("-+.0123456789")
)


@dataclass
class LoadedYaml:
    """The parsed document, the line of every key path, and the problems found while parsing."""

    data: Any = None
    lines: dict[str, int] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)


def _key_text(node: yaml.Node) -> str:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else "?"


def _record_lines(node: yaml.Node, prefix: str, out: LoadedYaml) -> None:
    """Map every key path under ``node`` to its line; report keys written twice."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = _key_text(key_node)
            path = f"{prefix}.{key}" if prefix else key
            line = key_node.start_mark.line + 1
            if key in seen:
                out.issues.append(
                    Issue(
                        path,
                        f"key {key!r} appears twice in the same mapping "
                        f"(lines {seen[key]} and {line})",
                        "PyYAML would silently keep the last one; delete one of them.",
                        line,
                    )
                )
                continue
            seen[key] = line
            out.lines.setdefault(path, line)
            _record_lines(value_node, path, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            path = f"{prefix}[{i}]"
            out.lines.setdefault(path, item.start_mark.line + 1)
            _record_lines(item, path, out)


def _syntax_issue(exc: yaml.YAMLError) -> Issue:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc)
    hint = "Check the indentation and the punctuation on that line and the one before."
    if "'\\t'" in problem or "\t" in problem:
        hint = "YAML does not allow tabs for indentation: indent with spaces."
    elif "mapping values are not allowed" in problem:
        hint = (
            "A ':' appears where YAML does not expect a key; quote the value, or check that "
            "this is a YAML file and not Python or JSON with errors."
        )
    return Issue("", f"YAML syntax error: {problem}", hint, line)


def load_yaml(text: str) -> LoadedYaml:
    """Parse one YAML document safely.

    Never raises on bad input: problems come back in ``issues``.

    >>> load_yaml("lr: {min: 1e-5, max: 1e-1}").data
    {'lr': {'min': 1e-05, 'max': 0.1}}
    >>> [i.message for i in load_yaml("a: 1\\na: 2").issues]
    ["key 'a' appears twice in the same mapping (lines 1 and 2)"]
    """
    out = LoadedYaml()
    try:
        loader = _SweepLoader(text)
    except yaml.reader.ReaderError as exc:  # control characters are refused before parsing
        line = text.count("\n", 0, exc.position) + 1
        out.issues.append(
            Issue(
                "",
                f"YAML syntax error: unacceptable character #x{exc.character:04x}: {exc.reason}",
                "Remove the control character; check that this is a text file.",
                line,
            )
        )
        return out
    try:
        node = loader.get_single_node()
        if node is not None:
            _record_lines(node, "", out)
            out.data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        out.issues.append(_syntax_issue(exc))
        return out
    except (RecursionError, ValueError, OverflowError) as exc:
        out.issues.append(Issue("", f"cannot read the YAML document: {exc}"))
        return out
    finally:
        loader.dispose()
    return out
