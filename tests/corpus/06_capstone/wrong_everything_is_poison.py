# expect: lose retryable_failure_waits_and_is_charged_once
# Misconception: "a failed message should come back as soon as possible". Every failure is handed
# back at once with visibility 0, the retryable ones too: during a short outage a good order burns its
# receives in a second and lands in the dead-letter queue.

# --- cell: charge_once
def charge_once(db, handler, body):
    """Charge the order in `body` unless it was charged before; True if it was charged now."""
    key = capstone.order_id(body)
    db.execute("CREATE TABLE IF NOT EXISTS processed (key TEXT PRIMARY KEY)")
    with db:
        if not db.execute("INSERT OR IGNORE INTO processed (key) VALUES (?)", (key,)).rowcount:
            return False
        handler(db, body)
    return True

# --- cell: handle_event
def handle_event(event, db, handler):
    """Charge every record of an SQS event once; report the ones that failed, by messageId."""
    failures = []
    for record in event["Records"]:
        try:
            charge_once(db, handler, record["body"])
        except Exception:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}

# --- cell: consume_batch
from botocore.exceptions import ClientError

POISON = (ValueError, KeyError, TypeError)


def consume_batch(sqs, queue_url, db, handler, clock, *, timeout=30):
    """One step: receive up to 10, keep them hidden while working, charge each once, delete in one call."""
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    held = {m["MessageId"]: m["ReceiptHandle"] for m in messages}

    def beat():
        entries = [{"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": timeout}
                   for i, handle in enumerate(held.values())]
        if entries:
            try:
                sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)
            except ClientError:
                pass

    heartbeat = clock.every(timeout / 2, beat, name="heartbeat")
    failed, done = [], []
    try:
        for m in messages:
            try:
                charge_once(db, handler, m["Body"])
            except Exception as error:
                del held[m["MessageId"]]
                failed.append(m["MessageId"])
                if True:  # any failure: back at once
                    sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"],
                                                  VisibilityTimeout=0)
                continue
            done.append(m)
        for attempt in range(2):
            if not done:
                break
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)]
            answer = sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
            not_deleted = {f["Id"] for f in answer.get("Failed", [])}
            done = [m for entry, m in zip(entries, done) if entry["Id"] in not_deleted]
        failed += [m["MessageId"] for m in done]
    finally:
        heartbeat.cancel()
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
