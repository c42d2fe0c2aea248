# expect: full
# Alternative: the charge looks the key up first and records it after the charge, in the same
# transaction (the primary key still refuses a second record); the Lambda function collects failed
# ids in a set; the consumer's heartbeat is a chain of one-shot timers that re-arms itself while the
# step runs, renewing the held messages in batches, and the delete is retried until nothing is left
# in Failed (three tries at most).

# --- cell: charge_once
def charge_once(db, handler, body):
    key = capstone.order_id(body)
    db.execute("CREATE TABLE IF NOT EXISTS processed (key TEXT PRIMARY KEY)")
    with db:
        if db.execute("SELECT 1 FROM processed WHERE key = ?", (key,)).fetchone():
            return False
        handler(db, body)
        db.execute("INSERT INTO processed (key) VALUES (?)", (key,))
    return True

# --- cell: handle_event
def handle_event(event, db, handler):
    failed = []
    for record in event["Records"]:
        try:
            charge_once(db, handler, record["body"])
        except Exception as error:
            print(f"{record['messageId']}: {type(error).__name__}: {error}")
            failed.append(record["messageId"])
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}

# --- cell: consume_batch
from botocore.exceptions import ClientError

POISON = (ValueError, KeyError, TypeError)


def consume_batch(sqs, queue_url, db, handler, clock, *, timeout=30):
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    if not messages:
        return {"batchItemFailures": []}
    held = {m["MessageId"]: m for m in messages}
    state = {"running": True, "timer": None}

    def beat():
        if not state["running"]:
            return
        batch = list(held.values())
        for start in range(0, len(batch), 10):
            try:
                sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=[
                    {"Id": f"m{n}", "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": timeout}
                    for n, m in enumerate(batch[start:start + 10])])
            except ClientError:
                pass
        state["timer"] = clock.call_later(timeout / 2, beat, name="heartbeat")

    state["timer"] = clock.call_later(timeout / 2, beat, name="heartbeat")
    not_done = []
    try:
        for m in messages:
            try:
                charge_once(db, handler, m["Body"])
            except Exception as error:
                held.pop(m["MessageId"])
                not_done.append(m["MessageId"])
                if isinstance(error, POISON):
                    sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"],
                                                  VisibilityTimeout=0)
        pending = list(held.values())
        for attempt in range(3):
            if not pending:
                break
            entries = {f"d{n}": m for n, m in enumerate(pending)}
            answer = sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": entry_id, "ReceiptHandle": m["ReceiptHandle"]} for entry_id, m in entries.items()])
            pending = [entries[f["Id"]] for f in answer.get("Failed", [])]
        not_done += [m["MessageId"] for m in pending]
    finally:
        state["running"] = False
        if state["timer"] is not None:
            state["timer"].cancel()
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in not_done]}
