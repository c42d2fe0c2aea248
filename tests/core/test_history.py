"""The history: one append-only record that every view reads."""

from sqslab import History


def _history():
    t = [0.0]
    h = History(now=lambda: t[0])
    return h, t


def test_events_are_numbered_and_stamped_in_order():
    h, t = _history()
    h.append("producer", "send", "m1", "order-1", body="{}")
    t[0] = 30.5
    h.append("consumer-1", "receive", "m1", "order-1", receive_count=1, visible_until_t=60.5)
    assert [e.seq for e in h] == [0, 1]
    assert [e.time for e in h] == [0.0, 30.5]
    assert h.for_key("order-1")[1].detail["receive_count"] == 1


def test_effects_by_key_counts_only_committed_effects():
    h, _ = _history()
    h.append("c1", "effect", "m1", "order-1", effect="charge")
    h.append("c1", "rollback", None, "order-2", effects=["order-2"])
    h.append("c2", "effect", "m1", "order-1", effect="charge")
    assert h.effects_by_key() == {"order-1": 2}


def test_text_reads_like_a_log():
    h, _ = _history()
    h.append("consumer-1", "crash", point="before_delete")
    h.append("producer", "send", "m2", "order-2", delivered=False)
    lines = h.text().splitlines()
    assert "crash" in lines[0] and "before_delete" in lines[0]
    assert "deduplicated" in lines[1]


def test_listeners_see_each_event_as_it_is_appended():
    h, _ = _history()
    seen = []
    h.subscribe(seen.append)
    h.append("bench", "note", text="hello")
    h.unsubscribe(seen.append)
    h.append("bench", "note", text="unseen")
    assert [e.detail["text"] for e in seen] == ["hello"]


def test_since_and_keys_and_message_ids():
    h, _ = _history()
    h.append("p", "send", "m1", "a")
    mark = len(h)
    h.append("p", "send", "m2", "b")
    assert [e.key for e in h.since(mark)] == ["b"]
    assert h.keys() == ["a", "b"] and h.message_ids() == ["m1", "m2"]
