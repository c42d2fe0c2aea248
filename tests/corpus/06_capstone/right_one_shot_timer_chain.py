# expect: full
# Alternative: the Lambda function collects failed ids in a list and logs each failure; the
# consumer's heartbeat is a chain of one-shot timers that re-arms itself while the step holds
# anything, renewing the held messages ten at a time; the chain is broken before the delete; the
# delete is tried up to three times, each time only with the entries that failed on SQS's side.

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
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20).get("Messages", [])
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

    def stop():
        state["running"] = False
        if state["timer"] is not None:
            state["timer"].cancel()

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
        stop()
        for attempt in range(3):
            if not pending:
                break
            entries = {f"d{n}": m for n, m in enumerate(pending)}
            answer = sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": entry_id, "ReceiptHandle": m["ReceiptHandle"]} for entry_id, m in entries.items()])
            failures = answer.get("Failed", [])
            not_done += [entries[f["Id"]]["MessageId"] for f in failures if f["SenderFault"]]
            pending = [entries[f["Id"]] for f in failures if not f["SenderFault"]]
        not_done += [m["MessageId"] for m in pending]
    finally:
        stop()
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in not_done]}
