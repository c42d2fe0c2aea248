# expect: full
# Alternative: the heartbeat renews the whole batch until the step has worked through it; then it is
# stopped, the failed messages are handed back in one ChangeMessageVisibilityBatch (poison at once, a
# retryable failure after a back-off that grows with its receive count but never past the timeout),
# and the finished ones deleted in one DeleteMessageBatch. Two calls to let everything go, and no
# message is let go while the heartbeat runs. The Lambda function reports from a set.

# --- cell: handle_event
def handle_event(event, db, handler):
    failures = set()
    for record in event["Records"]:
        try:
            charge_once(db, handler, record["body"])
        except Exception:
            failures.add(record["messageId"])
    return {"batchItemFailures": [{"itemIdentifier": i} for i in sorted(failures)]}

# --- cell: consume_batch
from botocore.exceptions import ClientError


def consume_batch(sqs, queue_url, db, handler, clock, *, timeout=30):
    answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20,
                                 MessageSystemAttributeNames=["ApproximateReceiveCount"])
    messages = {m["MessageId"]: m for m in answer.get("Messages", [])}

    def beat():
        try:
            sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=[
                {"Id": mid, "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": timeout}
                for mid, m in messages.items()])
        except ClientError:
            pass

    timer = clock.every(timeout / 3, beat, name="heartbeat") if messages else None
    finished, back = set(), {}
    try:
        for mid, m in messages.items():
            try:
                charge_once(db, handler, m["Body"])
                finished.add(mid)
            except (ValueError, KeyError, TypeError):
                back[mid] = 0
            except Exception:
                back[mid] = min(timeout, 5 * int(m["Attributes"]["ApproximateReceiveCount"]))
        if timer is not None:
            timer.cancel()
        if back:
            sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=[
                {"Id": mid, "ReceiptHandle": messages[mid]["ReceiptHandle"], "VisibilityTimeout": seconds}
                for mid, seconds in back.items()])
        to_delete = sorted(finished)
        for attempt in range(2):
            if not to_delete:
                break
            result = sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": mid, "ReceiptHandle": messages[mid]["ReceiptHandle"]} for mid in to_delete])
            for f in result.get("Failed", []):
                if f["SenderFault"]:
                    finished.discard(f["Id"])
            to_delete = [f["Id"] for f in result.get("Failed", []) if not f["SenderFault"]]
        finished -= set(to_delete)
    finally:
        if timer is not None:
            timer.cancel()
    return {"batchItemFailures": [{"itemIdentifier": mid} for mid in messages if mid not in finished]}
