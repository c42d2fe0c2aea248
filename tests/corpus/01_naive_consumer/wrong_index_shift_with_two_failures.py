# expect: lose carries_on_after_a_failed_message keeps_failed_messages_for_retry never_loses_a_message_under_any_crash
# Bug (fault-space class: two failures in one batch): build the DeleteMessageBatch entries for the
# whole batch, then pop each failed message's entry by its index. With one failure it is right;
# with two, the first pop shifts the indices, so the second pop removes the wrong entry: the second
# failed message is deleted uncharged (lost), and a finished one is kept (charged again).
# --- cell: consume_once
def consume_once(sqs, queue_url, handle):
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20).get("Messages", [])
    entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
    for i, message in enumerate(messages):
        try:
            handle(message["Body"])
        except Exception:
            entries.pop(i)  # keep it for a retry
    if entries:
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
    return len(entries)
