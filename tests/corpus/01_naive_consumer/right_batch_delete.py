# expect: full
# Alternative: handle everything, then delete the successes in one DeleteMessageBatch call and
# check its per-entry failures. The receive asks for every attribute and long-polls through a
# parameters dict.
# --- cell: receive_batch
RECEIVE = {"MaxNumberOfMessages": 10, "WaitTimeSeconds": 20, "AttributeNames": ["All"]}


def receive_batch(sqs, queue_url):
    return list(sqs.receive_message(QueueUrl=queue_url, **RECEIVE).get("Messages") or [])


# --- cell: consume_once
def consume_once(sqs, queue_url, handle):
    messages = receive_batch(sqs, queue_url)
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
