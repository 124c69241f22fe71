"""Reading a function's docstring: its summary and one description per parameter (Google, NumPy or Sphinx style)."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

_GOOGLE_SECTION = re.compile(r"^(Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments)\s*:\s*$")
_GOOGLE_OTHER = re.compile(
    r"^(Returns?|Yields?|Raises|Examples?|Notes?|Attributes|See Also|Warnings?|References|Todo)\s*:\s*$"
)
_GOOGLE_ENTRY = re.compile(r"^(\*{0,2}\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")
_NUMPY_UNDERLINE = re.compile(r"^-{3,}\s*$")
_NUMPY_NAME = re.compile(r"^\*{0,2}\w+$")
_SPHINX_PARAM = re.compile(r"^:param\s+(?:[^:]*\s)?(\w+)\s*:\s*(.*)$")
_SPHINX_FIELD = re.compile(r"^:\w+")


@dataclass
class Docstring:
    summary: str = ""  # everything before the first section, paragraphs kept
    params: dict[str, str] = field(default_factory=dict)


def _join(lines: list[str]) -> str:
    return " ".join(line.strip() for line in lines if line.strip())


def parse_docstring(doc: str | None) -> Docstring:
    """Split a docstring into its summary and per-parameter descriptions; unknown layouts give a summary only."""
    if not doc:
        return Docstring()
    lines = inspect.cleandoc(doc).splitlines()
    summary_end = len(lines)
    params: dict[str, str] = {}
    index = 0
    while index < len(lines):
        stripped = lines[index].strip()
        is_numpy_header = index + 1 < len(lines) and _NUMPY_UNDERLINE.match(lines[index + 1].strip() or "x")
        if _GOOGLE_SECTION.match(stripped):
            summary_end = min(summary_end, index)
            index = _read_google(lines, index + 1, params)
        elif is_numpy_header and stripped:
            summary_end = min(summary_end, index)
            if stripped.lower() in ("parameters", "other parameters", "keyword arguments"):
                index = _read_numpy(lines, index + 2, params)
            else:
                index += 2
        elif _SPHINX_PARAM.match(stripped):
            summary_end = min(summary_end, index)
            name, text = _SPHINX_PARAM.match(stripped).groups()  # type: ignore[union-attr]
            body = [text]
            index += 1
            while index < len(lines) and lines[index].strip() and not _SPHINX_FIELD.match(lines[index].strip()):
                body.append(lines[index])
                index += 1
            params[name] = _join(body)
        elif _GOOGLE_OTHER.match(stripped) or _SPHINX_FIELD.match(stripped):
            summary_end = min(summary_end, index)
            index += 1
        else:
            index += 1
    summary = "\n".join(lines[:summary_end]).strip()
    return Docstring(summary=re.sub(r"\n{3,}", "\n\n", summary), params=params)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _read_google(lines: list[str], index: int, params: dict[str, str]) -> int:
    """Entries `name (type): text` indented under the section header; continuation lines indent further."""
    entry_indent: int | None = None
    current: str | None = None
    body: list[str] = []
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            index += 1
            continue
        indent = _indent(line)
        if indent == 0:
            break  # the next section (or text) at the header's level
        if entry_indent is None:
            entry_indent = indent
        match = _GOOGLE_ENTRY.match(line.strip())
        if indent <= entry_indent and match:
            if current is not None:
                params[current] = _join(body)
            current, body = match.group(1).lstrip("*"), [match.group(3)]
        elif current is not None:
            body.append(line)
        index += 1
    if current is not None:
        params[current] = _join(body)
    return index


def _read_numpy(lines: list[str], index: int, params: dict[str, str]) -> int:
    """Entries `name : type` at the section's indent, the description indented below."""
    current: list[str] = []
    body: list[str] = []

    def flush() -> None:
        for name in current:
            params[name] = _join(body)

    while index < len(lines):
        line = lines[index]
        if index + 1 < len(lines) and line.strip() and _NUMPY_UNDERLINE.match(lines[index + 1].strip() or "x"):
            break  # the next section header
        if not line.strip():
            index += 1
            continue
        if _indent(line) == 0:
            names = [name.strip() for name in line.split(":")[0].split(",")]
            if not names or not all(_NUMPY_NAME.match(name) for name in names):
                break
            flush()
            current = [name.lstrip("*") for name in names]
            body = []
        else:
            body.append(line)
        index += 1
    flush()
    return index
