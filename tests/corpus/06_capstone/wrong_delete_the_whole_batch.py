# expect: lose poison_reaches_the_dlq_fast_and_uncharged retryable_failure_waits_and_is_charged_once survives_every_fault_point_exactly_once
# Misconception: "the batch has been handled, so delete the batch". Every message received is
# deleted at the end, the failed ones too: a retryable failure is lost for good, and a poison message
# never reaches the dead-letter queue (it is deleted, not set aside).
# --- cell: consume_batch
from botocore.exceptions import ClientError

POISON = (ValueError, KeyError, TypeError)


def consume_batch(sqs, queue_url, db, handler, clock, *, timeout=30):
    """One step: handle the batch, report what failed, then delete the batch."""
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20).get("Messages", [])
    handles = [m["ReceiptHandle"] for m in messages]

    def beat():
        entries = [{"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": timeout} for i, h in enumerate(handles)]
        if entries:
            try:
                sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)
            except ClientError:
                pass

    heartbeat = clock.every(timeout / 2, beat, name="heartbeat")
    failed = []
    try:
        for m in messages:
            try:
                charge_once(db, handler, m["Body"])
            except Exception:
                failed.append(m["MessageId"])  # reported (and logged) below
        left = list(messages)  # the batch has been handled: delete all of it
        heartbeat.cancel()
        for attempt in range(2):
            if not left:
                break
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(left)]
            not_deleted = {f["Id"] for f in sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed", [])}
            left = [m for e, m in zip(entries, left) if e["Id"] in not_deleted]
    finally:
        heartbeat.cancel()
    return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}
