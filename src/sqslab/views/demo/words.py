"""The demo's sentences: what a step did, told as one line a class can read aloud.

``consumer-1 received order-1, order-2; charged order-1; deleted order-1`` (:func:`tell`), and
what an armed crash will do (:func:`arming`), in the future tense: it has not happened yet.
"""

from __future__ import annotations

from typing import Any

__all__ = ["tell", "arming"]


def phrase_of(e: Any) -> tuple[str, str | None] | None:
    """``(verb, object)`` for one event of a step's story, or None to leave it out."""
    d, key = e.detail, e.key or (e.message_id[:8] if e.message_id else None)
    if e.kind == "send":
        return ("sent", key) if d.get("delivered", True) else ("sent again, deduplicated (not delivered):", key)
    if e.kind == "receive":
        return "received", key
    if e.kind == "effect":
        return "charged", key
    if e.kind == "rollback":
        return "rolled back the uncommitted charge of", ", ".join(d.get("effects", [])) or key
    if e.kind == "delete":
        if d.get("applied", True):
            return "deleted", key
        return "tried to delete (stale receipt handle: SQS kept it)", key
    if e.kind == "visibility":
        if not d.get("ok", True):
            return f"failed to change the visibility ({d.get('error')}) of", key
        return ("released", key) if d.get("timeout") == 0 else ("extended the lease of", key)
    if e.kind == "fault":
        return f"met the fault {d.get('point')} on", key
    if e.kind == "crash":
        return f"CRASHED at {d.get('point') or d.get('error')}", None
    if e.kind in ("start", "stop"):
        return ("started" if e.kind == "start" else "stopped"), None
    if e.kind == "dlq_move":
        return "moved to the DLQ:", key
    if e.kind == "move_task":
        return "redrove back to the queue:", key
    if e.kind == "note" and d.get("text"):
        return d["text"], None
    return None


def tell(events: list) -> str:
    """A step's events as one sentence: ``consumer-1 received order-1, order-2; charged order-1; ...``."""
    groups: list[list] = []  # [actor, verb, [objects]]
    for e in events:
        phrase = phrase_of(e)
        if phrase is None:
            continue
        verb, obj = phrase
        if groups and groups[-1][0] == e.actor and groups[-1][1] == verb and obj is not None:
            groups[-1][2].append(obj)
        else:
            groups.append([e.actor, verb, [obj] if obj is not None else []])
    parts, actor = [], None
    for who, verb, objects in groups:
        names: list[str] = []
        for obj in objects:  # "order-1 x8" rather than eight times the same word
            if names and names[-1].split(" ×")[0] == obj:
                n = int(names[-1].split(" ×")[1]) + 1 if " ×" in names[-1] else 2
                names[-1] = f"{obj} ×{n}"
            else:
                names.append(obj)
        text = verb + (" " + ", ".join(names) if names else "")
        parts.append(text if who == actor else f"{who} {text}")
        actor = who
    return "; ".join(parts)


# -- the consumer versions ------------------------------------------------------------------------


#: What a lane's consumer will do when its armed fault fires, said before it happens.
_ARMING = {
    "after_receive": "will die right after receiving {target}, before doing anything with it",
    "before_effect": "will die just before charging {target}",
    "effect_uncommitted": "will die after charging {target}, before the charge is committed",
    "effect_committed": "will die right after the charge of {target} is committed, before deleting it",
    "before_delete": "will die just before deleting {target} (the delete never reaches SQS)",
    "after_delete": "will die right after SQS deletes {target}, before it learns so",
    "visibility_expires": "will outlast the lease of {target}: another lane receives it while the work still runs",
    "duplicate_delivery": "will get {target} delivered a second time",
    "handler_error": "will fail charging {target} with an ordinary error (a transient one)",
}


def arming(point: str, target: str, description: str) -> str:
    """What the consumer will do at ``point`` for ``target`` (``"order-2"``, ``"the next message"``)."""
    if point in _ARMING:
        return _ARMING[point].format(target=target)
    return f"will meet {point} with {target} ({description})"
