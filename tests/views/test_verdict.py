"""A verdict in a notebook: wrapped text for print(), structured HTML for a cell's value."""

from __future__ import annotations

import html
import re

from sqslab import Fault, run_scenario
from sqslab.selftest import _naive
from sqslab.views import verdict as view


def crashed(lab):
    return run_scenario(_naive, messages=3, faults=[Fault("effect_committed", 1)], lab=lab).verdict


def own_error(lab):
    def broken(p):
        for m in p.sqs.receive_message(QueueUrl=p.queue_url).get("Messages", []):
            raise KeyError("amount")  # the learner's own bug
    return run_scenario(broken, messages=1, faults=[Fault("before_delete", 0)], max_steps=3, lab=lab).verdict


def words(text: str) -> list[str]:
    return text.split()


def test_print_shows_one_part_a_line_wrapped_between_words(lab):
    v = crashed(lab)
    shown = str(v)
    lines = shown.splitlines()
    assert all(len(line) <= 88 for line in lines), max(lines, key=len)
    assert [line.split(":")[0] for line in lines[:4] if not line.startswith(" ")] == ["FAILED", "Seen", "Injected"]
    assert any(line.startswith("Why:") for line in lines)
    # Nothing lost or reordered: the same words as the explanation, once the labels are set aside.
    labels = {"FAILED:", "Seen:", "Injected:", "Why:", "expected"}
    assert [w for w in words(shown) if w not in labels] == [w for w in words(v.explanation) if w not in labels]
    # Continuation lines hang under their part, not under its label.
    assert all(line.startswith(" " * 11) for line in lines[1:lines.index("What happened to order-2, in order:")]
               if not re.match(r"^[A-Z][a-z]+:", line))


def test_a_long_word_is_never_broken_inside(lab):
    text = "FAILED: expected x.\nSeen: " + "a" * 120 + " tail."
    assert "a" * 120 in view.wrap(text)


def test_html_lists_the_parts_with_labels_and_folds_the_story_away(lab):
    v = crashed(lab)
    page = v._repr_html_()
    assert "<strong>✗ Failed.</strong> Expected every message" in page
    labels = re.findall(r"<dt>([^<]+)</dt>", page)
    assert labels == ["Seen", "Injected by the bench", "Why"]
    assert re.search(r"<details><summary>What happened to order-2, in order \(\d+ events\)</summary><pre>", page)
    assert "white-space:pre-wrap;word-break:normal" in page        # never breaks a word
    assert html.unescape(re.sub(r"<[^>]+>", " ", page)).count("order-2's effect happened 2 times") == 1
    assert "var(--jp-content-font-color1" in page                  # follows the theme's colours


def test_the_learners_own_error_stands_apart_from_the_injected_fault(lab):
    v = own_error(lab)
    assert "Raised by your code" in v.explanation
    page = v._repr_html_()
    box = re.search(r"<div class='sqslab-own'>(.*?)</div>", page).group(1)
    assert "KeyError" in box and "not the bench's fault" in box
    assert "KeyError" not in "".join(re.findall(r"<dd>(.*?)</dd>", page))
    assert "Your code: raised KeyError" in str(v)


def test_a_passing_verdict_says_so_first(lab):
    v = run_scenario(_naive, messages=2, lab=lab).verdict
    assert v.ok
    assert "<strong>✓ Passed.</strong>" in v._repr_html_() and "sqslab-passed" in v._repr_html_()
    assert str(v).startswith("OK:")
    assert v._repr_markdown_().startswith("**✓ Passed.**")


def test_markdown_has_the_same_parts(lab):
    md = crashed(lab)._repr_markdown_()
    assert md.startswith("**✗ Failed.** Expected every message")
    assert "- **Seen:** order-2's effect happened 2 times" in md and "- **Why:**" in md


def test_lines_the_parser_does_not_know_stay_in_order():
    text = "Run 3 of 60: the first counter-example.\nFAILED: expected x.\nSomething else entirely.\nWhy: y."
    parts = view.parse(text)
    assert [(k, b) for k, _, b in parts.lines] == [("note", "Run 3 of 60: the first counter-example."),
                                                  ("expected", "X."), ("note", "Something else entirely."),
                                                  ("why", "y.")]
    assert not parts.ok
