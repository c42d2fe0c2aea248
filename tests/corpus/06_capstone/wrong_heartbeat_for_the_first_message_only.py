# expect: lose heartbeat_keeps_every_message_of_the_batch_hidden
# Misconception: lesson 4's one-message heartbeat carried over to a batch: only the first message's
# lease is renewed, so the messages waiting their turn expire and a rival receives them mid-batch.
# --- edit: consume_batch
# replace:
    held = {m["MessageId"]: m["ReceiptHandle"] for m in messages}  # what the heartbeat renews
# with:
    held = {m["MessageId"]: m["ReceiptHandle"] for m in messages}
# replace:
        entries = [{"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": timeout}
                   for i, handle in enumerate(held.values())]
        if entries:
# with:
        first = messages[0]["ReceiptHandle"]
        entries = [{"Id": "0", "ReceiptHandle": first, "VisibilityTimeout": timeout}]
        if messages[0]["MessageId"] in held:
# replace:
                pass  # half the lease is left: the next beat tries again
# with:
                pass
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
