# expect: lose heartbeat_stops_when_the_step_returns
# Misconception: "the heartbeat is a timer; it ends by itself". It is never cancelled, so it keeps
# renewing after the step returned: every message it still lists stays hidden for as long as the
# process lives (and the calls never stop).
# --- edit: consume_batch
# replace:
    held = {m["MessageId"]: m["ReceiptHandle"] for m in messages}  # what the heartbeat renews
# with:
    held = {m["MessageId"]: m["ReceiptHandle"] for m in messages}
# replace:
                pass  # half the lease is left: the next beat tries again
# with:
                pass
# replace:
    heartbeat = clock.every(timeout / 2, beat, name="heartbeat")
# with:
    clock.every(timeout / 2, beat, name="heartbeat")
# replace:
                if isinstance(error, POISON):  # the message is bad: back at once, on its way to the DLQ
# with:
                if isinstance(error, POISON):
# replace:
                continue  # retryable: no longer renewed, so SQS delivers it again after its lease
# with:
                continue
# replace:
        for attempt in range(2):  # the delete, and once more for the entries that failed
# with:
        for attempt in range(2):
# replace:
        heartbeat.cancel()
# with:
        pass  # the heartbeat keeps running
