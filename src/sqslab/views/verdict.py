"""A checker's verdict, for reading at a glance: wrapped text, and structured HTML for notebooks.

The checker (:mod:`sqslab.check`) writes its explanation as lines that each start with what they
are: ``FAILED: expected ...``, ``Seen: ...``, ``Also: ...``, ``Raised by your code ...``,
``Injected: ...``, ``Why: ...``, then ``What happened to order-2, in order:`` and one indented line
per event. This module reads those lines back into parts, and shows them:

- as text (``print(verdict)``): each part on its own line, its label in a column of its own, long
  lines wrapped between words with a hanging indent, so an output area never breaks a word;
- as HTML (a verdict as a cell's last value): a short list of labelled parts in the page's own
  font and colours (JupyterLab's theme variables, so the dark theme works), the learner's own
  error in a box apart from the fault the bench injected, and the event story folded away.

Lines the parser does not know stay as they are, in order: other checkers' explanations read the
same. Nothing here imports the checker (the checker imports this, lazily).
"""

from __future__ import annotations

import html
import re
import textwrap
from dataclasses import dataclass, field

__all__ = ["Parts", "parse", "wrap", "to_html", "to_markdown"]

#: (prefix in the explanation, label shown, kind) in the order they come.
_LABELS = (
    ("FAILED: expected ", "Expected", "expected"),
    ("OK: ", "Passed", "passed"),
    ("Seen: ", "Seen", "seen"),
    ("Also: ", "Also", "also"),
    ("Injected: ", "Injected by the bench", "injected"),
    ("Why: ", "Why", "why"),
)
_OWN = re.compile(r"^Raised by your code(?: \(([^)]*)\))?: (.*)$")
_STORY = re.compile(r"^What happened to (.+), in order:$")


@dataclass
class Parts:
    """An explanation read back into its parts (``lines`` keeps every part in order)."""

    ok: bool
    lines: list[tuple[str, str, str]] = field(default_factory=list)   # (kind, label, text)
    story_of: str | None = None
    story: list[str] = field(default_factory=list)


def parse(explanation: str, ok: bool | None = None) -> Parts:
    """Read ``explanation`` into its labelled parts."""
    text = explanation or ""
    parts = Parts(ok if ok is not None else not any(l.startswith("FAILED") for l in text.splitlines()))
    in_story = False
    for line in text.splitlines():
        if in_story and (line.startswith("  ") or not line.strip()):
            parts.story.append(line.strip())
            continue
        in_story = False
        story = _STORY.match(line)
        if story:
            parts.story_of, in_story = story.group(1), True
            continue
        own = _OWN.match(line)
        if own:
            parts.lines.append(("own", "Your code raised", own.group(2).rstrip(".")))
            continue
        for prefix, label, kind in _LABELS:
            if line.startswith(prefix):
                body = line[len(prefix):]
                parts.lines.append((kind, label, body[:1].upper() + body[1:] if kind == "expected" else body))
                break
        else:
            if line.strip():
                parts.lines.append(("note", "", line.strip()))
    return parts


_TEXT_LABELS = {"expected": "FAILED", "passed": "OK", "seen": "Seen", "also": "Also", "injected": "Injected",
                "why": "Why", "own": "Your code", "note": ""}


def wrap(explanation: str, width: int = 88) -> str:
    """The explanation as text for a terminal or an output area: one part per line, labels in a
    column, lines wrapped between words (never inside one) with a hanging indent."""
    parts = parse(explanation)
    column = 11                                   # "Your code: "
    out: list[str] = []
    for kind, _, body in parts.lines:
        label = _TEXT_LABELS.get(kind, "")
        if kind == "expected":
            body = "expected " + body[:1].lower() + body[1:]
        elif kind == "own":
            body = "raised " + body + " (an error of your own, not the bench's fault)"
        head = f"{label}:".ljust(column) if label else ""
        lines = textwrap.wrap(body, width - len(head), break_long_words=False, break_on_hyphens=False) or [""]
        out.append(head + lines[0])
        out += [" " * len(head) + more for more in lines[1:]]
    if parts.story_of:
        out.append(f"What happened to {parts.story_of}, in order:")
        for event in parts.story:
            lines = textwrap.wrap(event, width - 2, break_long_words=False, break_on_hyphens=False) or [""]
            out.append("  " + lines[0])
            out += ["      " + more for more in lines[1:]]
    return "\n".join(out)


_CSS = (
    "<style>"
    ".sqslab-verdict{border-left:4px solid var(--jp-error-color1,#d32f2f);padding:.2em .8em;margin:.3em 0;"
    "color:var(--jp-content-font-color1,#1f1f1f);font-family:var(--jp-content-font-family,system-ui,sans-serif);"
    "font-size:var(--jp-content-font-size1,14px);line-height:1.45;max-width:60em}"
    ".sqslab-verdict.sqslab-passed{border-left-color:var(--jp-success-color1,#388e3c)}"
    ".sqslab-verdict p{margin:.2em 0}"
    ".sqslab-verdict dl{display:grid;grid-template-columns:max-content 1fr;gap:.15em 1em;margin:.3em 0}"
    ".sqslab-verdict dt{font-weight:600}"
    ".sqslab-verdict dd{margin:0;overflow-wrap:break-word}"
    ".sqslab-verdict .sqslab-own{border:1px dashed currentColor;padding:.3em .6em;margin:.4em 0;border-radius:3px}"
    ".sqslab-verdict pre{white-space:pre-wrap;word-break:normal;overflow-wrap:break-word;"
    "font-size:var(--jp-code-font-size,13px);margin:.3em 0}"
    "</style>"
)


def to_html(explanation: str, ok: bool) -> str:
    """The verdict as a short structured block (see the module's docstring)."""
    parts = parse(explanation, ok)
    e = html.escape
    rows, own, notes = [], [], []
    head = ""
    for kind, label, body in parts.lines:
        if kind == "expected":
            head = f"<p><strong>✗ Failed.</strong> Expected {e(body[:1].lower() + body[1:])}</p>"
        elif kind == "passed":
            head = f"<p><strong>✓ Passed.</strong> {e(body)}</p>"
        elif kind == "own":
            own.append(f"<div class='sqslab-own'><strong>Your code raised</strong> (an error of your own, "
                       f"not the bench's fault): {e(body)}</div>")
        elif kind == "note":
            notes.append(f"<p>{e(body)}</p>")
        else:
            rows.append(f"<dt>{e(label)}</dt><dd>{e(body)}</dd>")
    if not head:
        head = "<p><strong>✓ Passed.</strong></p>" if parts.ok else "<p><strong>✗ Failed.</strong></p>"
    story = ""
    if parts.story_of:
        story = (f"<details><summary>What happened to {e(parts.story_of)}, in order "
                 f"({len(parts.story)} events)</summary><pre>{e(chr(10).join(parts.story))}</pre></details>")
    kind = "sqslab-passed" if parts.ok else "sqslab-failed"
    return (f"<div class='sqslab-verdict {kind}'>{_CSS}" + "".join(notes) + head
            + (f"<dl>{''.join(rows)}</dl>" if rows else "") + "".join(own) + story + "</div>")


def to_markdown(explanation: str, ok: bool) -> str:
    """The same parts as Markdown, for front-ends that show Markdown but not HTML."""
    parts = parse(explanation, ok)
    out = []
    for kind, label, body in parts.lines:
        if kind == "expected":
            out.insert(0, f"**✗ Failed.** Expected {body[:1].lower() + body[1:]}")
        elif kind == "passed":
            out.insert(0, f"**✓ Passed.** {body}")
        elif kind == "note":
            out.append(body)
        else:
            out.append(f"- **{label}:** {body}")
    if not out or not out[0].startswith("**"):
        out.insert(0, "**✓ Passed.**" if parts.ok else "**✗ Failed.**")
    head, items = out[0], out[1:]
    text = head + "\n\n" + "\n".join(items)
    if parts.story_of:
        text += f"\n\nWhat happened to {parts.story_of}, in order:\n\n```\n" + "\n".join(parts.story) + "\n```"
    return text
