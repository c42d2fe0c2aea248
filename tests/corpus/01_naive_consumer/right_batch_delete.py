# expect: full
# Alternative: handle everything, then delete the successes in one DeleteMessageBatch call and
# check its per-entry failures.
def consume_once(sqs, queue_url, handle):
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    succeeded = []
    for index, m in enumerate(messages):
        try:
            handle(m["Body"])
        except Exception:
            continue
        succeeded.append({"Id": str(index), "ReceiptHandle": m["ReceiptHandle"]})
    if not succeeded:
        return 0
    result = sqs.delete_message_batch(QueueUrl=queue_url, Entries=succeeded)
    return len(result.get("Successful", []))
