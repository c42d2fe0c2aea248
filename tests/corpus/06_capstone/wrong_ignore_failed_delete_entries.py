# expect: lose failed_delete_entry_is_deleted_again_at_once
# Misconception: "the batch call did not raise, so every entry was deleted". DeleteMessageBatch
# answers HTTP 200 with the entries it could not apply in Failed; this consumer never reads it, so a
# message whose entry failed is delivered again (and counted as done).
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
                if isinstance(error, POISON):
# replace:
                continue  # retryable: no longer renewed, so SQS delivers it again after its lease
# with:
                continue
# replace:
        for attempt in range(2):  # the delete, and once more for the entries that failed
            if not done:
                break
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)]
            answer = sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
            not_deleted = {f["Id"] for f in answer.get("Failed", [])}
            done = [m for entry, m in zip(entries, done) if entry["Id"] in not_deleted]
        failed += [m["MessageId"] for m in done]
# with:
        if done:
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
