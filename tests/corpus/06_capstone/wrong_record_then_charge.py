# expect: lose charge_once_keeps_nothing_of_a_failed_attempt survives_every_fault_point_exactly_once
# Misconception: "mark the order as processed first, so nothing can charge it twice". The record is
# committed in a transaction of its own before the charge: when the charge fails or the process dies
# in between, the order is marked done and never charged (lost).

# --- cell: charge_once
def charge_once(db, handler, body):
    """Record the order first (its own transaction), then charge it."""
    key = capstone.order_id(body)
    db.execute("CREATE TABLE IF NOT EXISTS processed (key TEXT PRIMARY KEY)")
    with db:
        if not db.execute("INSERT OR IGNORE INTO processed (key) VALUES (?)", (key,)).rowcount:
            return False
    with db:
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
                if isinstance(error, POISON):
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
