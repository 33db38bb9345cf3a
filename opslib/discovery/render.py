"""The draft as YAML text with its evidence as comments (PyYAML writes no comments: the block structure is
written here, every scalar and small mapping by ``yaml.safe_dump``, so quoting is PyYAML's)."""
from __future__ import annotations

from typing import Any

import yaml

from .guess import Draft, Note


def scalar(value: Any) -> str:
    return yaml.safe_dump([value], default_flow_style=True, width=10 ** 9, allow_unicode=True).strip()[1:-1]


def flow(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10 ** 9, sort_keys=False, allow_unicode=True).strip()


def _comment(note: Note | None) -> str:
    if note is None:
        return ""
    text = " ".join(note.text.split())
    return f"  # {'TODO: ' if note.todo else ''}{text}"


def _is_leaf(value: Any) -> bool:
    return not isinstance(value, (dict, list)) or (
        isinstance(value, list) and all(not isinstance(x, (dict, list)) for x in value))


def _block(d: Draft, value: dict, path: tuple, indent: int, out: list[str]) -> None:
    pad = "  " * indent
    for key, item in value.items():
        here = path + (key,)
        note = d.notes.get(here)
        if _is_leaf(item):
            out.append(f"{pad}{key}: {flow(item) if isinstance(item, list) else scalar(item)}{_comment(note)}")
        elif isinstance(item, dict) and (not item or path[:1] == ("metrics",) or key in ("dimensions", "columns")):
            out.append(f"{pad}{key}: {flow(item)}{_comment(note)}")
        elif isinstance(item, dict):
            out.append(f"{pad}{key}:{_comment(note)}")
            _block(d, item, here, indent + 1, out)
        else:
            out.append(f"{pad}{key}:{_comment(note)}")
            for i, entry in enumerate(item):
                entry_note = d.notes.get(here + (i,))
                if entry_note is not None:
                    out.append(f"{pad}  #{_comment(entry_note)[3:]}")
                if isinstance(entry, dict):
                    lines: list[str] = []
                    _block(d, entry, here + (i,), indent + 2, lines)
                    first = lines[0].lstrip()
                    out.append(f"{pad}  - {first}")
                    out.extend(lines[1:])
                else:
                    out.append(f"{pad}  - {flow(entry)}")


def header(d: Draft, *, command: str, when: str, account: str | None, primary: str, dr: str | None) -> list[str]:
    regions = f"{primary}, DR {dr}" if dr else f"{primary} only"
    lines = [f"# Drafted by `{command}` at {when} from account {account or 'unknown'} ({regions}).",
             "# Read-only calls only. Each guessed value says its evidence and confidence beside it; a value that",
             "# could not be observed is TODO (`runbook doctor` lists them until a person fills them in).",
             "# Secrets are never written here: database URLs are environment references."]
    todos = d.todos()
    if todos:
        lines.append(f"# To review ({len(todos)} TODO):")
        lines += [f"#   - {path}: {' '.join(text.split())}" for path, text in todos]
    if d.gaps:
        lines.append(f"# Calls refused ({len(d.gaps)}): what they would have shown is missing or guessed below")
        lines += [f"#   - {g.line()}" for g in d.gaps]
    if d.ignored:
        lines.append("# Seen but left out (add them by hand if they belong to this pipeline):")
        lines += [f"#   - {x}" for x in d.ignored[:40]] + ([f"#   - ... and {len(d.ignored) - 40} more"]
                                                          if len(d.ignored) > 40 else [])
    return lines


def render(d: Draft, **head: Any) -> str:
    out = header(d, **head)
    body: list[str] = []
    _block(d, d.values, (), 0, body)
    # a blank line between top-level sections
    for line in body:
        if line and not line.startswith((" ", "#")) and out and not out[-1].startswith("#"):
            out.append("")
        out.append(line)
    return "\n".join(out) + "\n"
