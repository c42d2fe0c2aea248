# expect: full
# Alternative: the Lambda function builds its report with a helper; the consumer short-polls and
# gives every message a timer of its own, cancelled as soon as that message is let go (before the
# hand-back) and, for the finished ones, just before the batch delete; it hands retryable failures
# back explicitly for one timeout, and sends entries that failed on SQS's side again one by one with
# DeleteMessage (never those that failed as the sender's fault).

# --- cell: handle_event
def _failed(record, db, handler):
    try:
        charge_once(db, handler, record["body"])
        return False
    except Exception:
        return True


def handle_event(event, db, handler):
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]}
                                  for r in event["Records"] if _failed(r, db, handler)]}

# --- cell: consume_batch
from botocore.exceptions import ClientError

POISON = (ValueError, KeyError, TypeError)


def consume_batch(sqs, queue_url, db, handler, clock, *, timeout=30):
    received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                   MessageSystemAttributeNames=["ApproximateReceiveCount"])
    messages = received.get("Messages", [])
    timers = {}

    def renewer(handle):
        def renew():
            try:
                sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=timeout)
            except ClientError:
                pass
        return renew

    for m in messages:
        timers[m["MessageId"]] = clock.every(timeout / 2, renewer(m["ReceiptHandle"]), name="heartbeat")
    report, finished = [], []
    try:
        for m in messages:
            try:
                charge_once(db, handler, m["Body"])
            except Exception as error:
                timers[m["MessageId"]].cancel()
                report.append(m["MessageId"])
                wait = 0 if isinstance(error, POISON) else timeout
                sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"],
                                              VisibilityTimeout=wait)
            else:
                finished.append(m)
        for m in finished:
            timers[m["MessageId"]].cancel()
        if finished:
            by_id = {m["MessageId"]: m for m in finished}
            answer = sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in finished])
            for failure in answer.get("Failed", []):
                if failure["SenderFault"]:
                    report.append(failure["Id"])
                    continue
                try:
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=by_id[failure["Id"]]["ReceiptHandle"])
                except ClientError:
                    report.append(failure["Id"])
    finally:
        for timer in timers.values():
            timer.cancel()
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in report]}
