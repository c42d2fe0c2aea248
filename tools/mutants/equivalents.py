"""The committed list of equivalent mutants: ``mutant id = "one-line argument"`` in a TOML file.

A mutant is equivalent when no learner-visible behaviour can tell it from the reference: no test
could kill it, so it is not counted against the kill rate. Every entry needs its argument, and the
suite checks that each listed id still names a mutant (a stale entry fails) and that equivalents
stay at most 10% of a lesson's mutants.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EQUIVALENTS = REPO / "tests" / "mutants" / "equivalent.toml"


def load_equivalents(path: Path = EQUIVALENTS) -> dict[str, str]:
    """Mutant id -> why it is equivalent. Ids are grouped in tables by lesson: ``[01_naive_consumer]``."""
    if not path.exists():
        return {}
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    out: dict[str, str] = {}
    for lesson, entries in data.items():
        if not isinstance(entries, dict):
            raise ValueError(f"{path}: put each entry under its lesson's table, [{lesson}] is not one")
        for key, why in entries.items():
            if not isinstance(why, str) or not why.strip():
                raise ValueError(f"{path}: {key!r} needs a one-line argument for why it is equivalent")
            if "\n" in why.strip():
                raise ValueError(f"{path}: the argument for {key!r} must be one line")
            mutant_id = key if key.startswith(f"{lesson}:") else f"{lesson}:{key}"
            out[mutant_id] = why.strip()
    return out


def toml_key(mutant_id: str, lesson: str) -> str:
    """The key to write under ``[lesson]`` for ``mutant_id`` (the lesson prefix left out), TOML-quoted."""
    key = mutant_id[len(lesson) + 1:] if mutant_id.startswith(f"{lesson}:") else mutant_id
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
