# expect: lose retryable_failure_waits_and_is_charged_once
# Misconception: "a failed message should come back as soon as possible". Every failure is handed
# back at once with visibility 0, the retryable ones too: during a short outage a good order burns its
# receives in a second and lands in the dead-letter queue.
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
                if isinstance(error, POISON):  # the message is bad: back at once, on its way to the DLQ
# with:
                if True:  # any failure: back at once
# replace:
                continue  # retryable: no longer renewed, so SQS delivers it again after its lease
# with:
                continue
# replace:
        for attempt in range(2):  # the delete, and once more for the entries that failed
# with:
        for attempt in range(2):
