"""The fidelity suite: every fact of docs/sqs-facts.md, on moto in this process and on moto's server mode.

moto with the bench's corrections must honour every fact wherever the lab reaches it; plain moto
(a server in a process of its own, where none of the bench is loaded) must not, which shows the
checks can fail.
"""

from __future__ import annotations

import pytest

from sqslab import Lab
from sqslab.tools import fidelity as fidelity_report
from sqslab.endpoint import Endpoint
from sqslab.tools.facts import FACTS, check, run_facts

NAMES = [f.name for f in FACTS]


@pytest.fixture(scope="module")
def in_process_lab():
    with Lab() as lab:
        yield lab


@pytest.fixture(scope="module")
def server_lab(threaded_moto_server):
    with Lab(endpoint=Endpoint("url", threaded_moto_server)) as lab:
        assert lab.in_process, "a ThreadedMotoServer in this process shares its moto"
        yield lab


@pytest.mark.parametrize("name", NAMES)
def test_moto_in_process_with_the_corrections_honours(in_process_lab, name):
    seen = check(name, in_process_lab)
    assert seen.honoured is True, seen.seen


@pytest.mark.parametrize("name", NAMES)
def test_moto_server_mode_in_this_process_honours(server_lab, name):
    seen = check(name, server_lab)
    assert seen.honoured is True, seen.seen


# Facts whose check waits no time: plain moto fails these (docs/sqs-facts.md, "Where moto differs").
PLAIN_MOTO_BREAKS = ["fifo_dedup_after_delete", "dedup_per_group_high_throughput", "retention_range",
                     "one_move_task_per_queue"]
PLAIN_MOTO_KEEPS = ["fifo_dedup", "batch_limit_10", "visibility_default"]


@pytest.mark.xdist_group("moto-server-process")
def test_plain_moto_elsewhere_is_reported_as_breaking_what_the_bench_corrects(moto_server_elsewhere, capsys):
    with Lab(endpoint=Endpoint("url", moto_server_elsewhere)) as lab:
        assert not lab.in_process
        results = {f.name: seen for f, seen in run_facts(lab, PLAIN_MOTO_BREAKS + PLAIN_MOTO_KEEPS)}
    assert {n: results[n].honoured for n in PLAIN_MOTO_BREAKS} == {n: False for n in PLAIN_MOTO_BREAKS}
    assert {n: results[n].honoured for n in PLAIN_MOTO_KEEPS} == {n: True for n in PLAIN_MOTO_KEEPS}
    assert "1 delivered" in results["fifo_dedup_after_delete"].seen


@pytest.mark.xdist_group("moto-server-process")
def test_a_fact_that_needs_more_real_waiting_than_allowed_is_not_checked(moto_server_elsewhere):
    with Lab(endpoint=Endpoint("url", moto_server_elsewhere, max_wait=5)) as lab:
        seen = check("fifo_dedup_five_minutes", lab)
    assert seen.honoured is None
    assert seen.seen.startswith("not checked: needs 290 s of real waiting, more than SQSLAB_MAX_WAIT=5 allows")



@pytest.fixture(autouse=True)
def sampled_short_polls(monkeypatch):
    # The facts are SQS's, short-poll sampling among them: moto with every correction in force.
    from sqslab.moto import backend

    monkeypatch.setitem(backend.SHORT_POLL_SAMPLING, "on", True)

def test_the_report_lists_each_fact_with_what_was_seen(tmp_path, capsys):
    status = fidelity_report.main(["--only", "stale_receipt_handle,fifo_dedup", "--out", str(tmp_path / "r.md"),
                                   "--strict"])
    text = capsys.readouterr().out
    assert status == 0
    assert "moto in this process, with the bench's corrections" in text
    assert "2 of 2 honoured" in text
    assert "| DeleteMessage with an outdated handle can succeed without deleting the message " \
           "(`stale_receipt_handle`) | yes | DeleteMessage with the older handle: succeeded; the message is " \
           "still in the queue |" in text
    assert (tmp_path / "r.md").read_text() == text.rstrip("\n") + "\n"


def test_the_facts_page_ends_with_exactly_the_checked_facts():
    import re
    from pathlib import Path

    from sqslab.tools.facts import markdown

    page = (Path(__file__).resolve().parents[2] / "docs" / "sqs-facts.md").read_text()
    block = re.search(r"<!-- checked-facts:.*?-->\n(.*?)\n<!-- /checked-facts -->", page, re.S)
    assert block, "docs/sqs-facts.md lost its checked-facts block"
    assert block.group(1) == markdown(), "regenerate it: python -m sqslab.tools.facts --markdown"
