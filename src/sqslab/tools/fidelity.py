"""Which SQS facts does this endpoint honour? ``python -m sqslab.tools.fidelity`` (``make fidelity``).

Runs every check of :mod:`sqslab.tools.facts` against the endpoint ``SQSLAB_ENDPOINT`` names (moto in
this process when unset, with the bench's corrections) and prints a table: the fact, honoured or
not, and what the endpoint did. ``--endpoint`` overrides the variable for one run, so

    python -m sqslab.tools.fidelity --endpoint moto-server
    python -m sqslab.tools.fidelity --endpoint http://localhost:9324      # ElasticMQ

compare endpoints. Where the clock is real a check waits in real time (about 20 s in all); a fact
needing more real waiting than ``SQSLAB_MAX_WAIT`` allows is listed as not checked.

Usage::

    python -m sqslab.tools.fidelity [--endpoint VALUE] [--only NAME,...] [--out FILE.md] [--strict]

``--strict`` exits with status 1 when any checked fact is not honoured.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .facts import FACTS, Fact, Seen, run_facts

#: True of SQS, but no API call can show it: listed under the table so the report says so.
NOT_CHECKABLE = (
    "standard queues deliver duplicates, rarely (at-least-once): no call can make real SQS do it",
    "short polling samples servers and may return fewer messages: a may, not a must",
    "FIFO throughput quotas (300 calls/s per action): a load test, not a fact check",
    "Lambda's batchItemFailures: Lambda's behaviour, not SQS's",
)


def mark(seen: Seen) -> str:
    """``yes``, ``no`` or ``not checked``."""
    return {True: "yes", False: "no", None: "not checked"}[seen.honoured]


def table(results: list[tuple[Fact, Seen]]) -> list[str]:
    """The report's markdown table lines."""
    lines = ["| fact | honoured | what was seen | AWS source |", "|---|---|---|---|"]
    for fact, seen in results:
        lines.append(f"| {fact.statement} (`{fact.name}`) | {mark(seen)} | {seen.seen.replace('|', '/')} "
                     f"| {fact.source} |")
    return lines


def summary(results: list[tuple[Fact, Seen]]) -> str:
    """``28 of 30 honoured, 1 not honoured, 1 not checked``."""
    yes = sum(1 for _, s in results if s.honoured)
    no = sum(1 for _, s in results if s.honoured is False)
    unchecked = len(results) - yes - no
    return f"{yes} of {len(results)} honoured, {no} not honoured, {unchecked} not checked"


def report(results: list[tuple[Fact, Seen]], where: str, seconds: float) -> str:
    """The whole report as markdown."""
    lines = [f"# SQS facts on {where}", "", f"{summary(results)} ({seconds:.1f} s).", ""]
    lines += table(results)
    lines += ["", "Not checked anywhere (true of SQS, but no call can show it):", ""]
    lines += [f"- {text}" for text in NOT_CHECKABLE]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the report; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m sqslab.tools.fidelity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", help="an SQSLAB_ENDPOINT value for this run (default: the variable's)")
    parser.add_argument("--only", help="comma-separated fact names (default: all of them)")
    parser.add_argument("--out", type=Path, help="also write the report to this markdown file")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a checked fact is not honoured")
    parser.add_argument("--list", action="store_true", help="list the facts and exit")
    args = parser.parse_args(argv)
    if args.list:
        for fact in FACTS:
            print(f"{fact.name:34} {fact.statement}")
        return 0
    if args.endpoint is not None:
        os.environ["SQSLAB_ENDPOINT"] = args.endpoint
    from ..lab import Lab
    from ..moto import backend

    backend.SHORT_POLL_SAMPLING["on"] = True  # every correction of moto in force, sampling included

    started = time.perf_counter()
    with Lab() as lab:
        where = lab.endpoint.describe() if lab.endpoint.kind != "moto-server" else f"moto's server mode ({lab._url})"
        if lab.endpoint.in_process_mock:
            where += ", with the bench's corrections"
        results = run_facts(lab, args.only.split(",") if args.only else None)
    text = report(results, where, time.perf_counter() - started)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return 1 if args.strict and any(s.honoured is False for _, s in results) else 0


if __name__ == "__main__":
    sys.exit(main())
