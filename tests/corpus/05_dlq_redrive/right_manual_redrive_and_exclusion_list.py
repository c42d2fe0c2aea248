# expect: full
# Alternative: is_poison lists the retryable errors it knows and treats the message's own errors as
# poison; the consumer handles and deletes one message at a time; the redrive is done by hand, the
# way it was before StartMessageMoveTask existed: receive from the DLQ, send to the source queue,
# then delete from the DLQ (send before delete: a crash in between duplicates, never loses, and the
# idempotent charge absorbs the duplicate).

# --- cell: redrive_policy
def redrive_policy(dlq_arn, retries):
    """The RedrivePolicy (JSON) that gives every message its first try and `retries` retries."""
    return json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": retries + 1})

# --- cell: is_poison
RETRYABLE = (ConnectionError, TimeoutError, OSError)


def is_poison(error):
    if isinstance(error, RETRYABLE):
        return False
    return isinstance(error, (ValueError, LookupError, TypeError))

# --- cell: charge_order
def charge_order(db, body, parse):
    """Charge the order in `body` once; True if it was charged now, False if it had been already."""
    order = parse(body)
    db.execute("CREATE TABLE IF NOT EXISTS charged_orders (order_id TEXT PRIMARY KEY)")
    with db:
        if db.execute("SELECT 1 FROM charged_orders WHERE order_id = ?", (order["order_id"],)).fetchone():
            return False
        db.apply_effect(order["order_id"], "charge", detail=str(order["amount"]))
        db.execute("INSERT INTO charged_orders (order_id) VALUES (?)", (order["order_id"],))
    return True

# --- cell: consume_with_dlq
def consume_with_dlq(sqs, queue_url, handle, is_poison):
    handled = 0
    for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []):
        ok = False
        try:
            handle(message["Body"])
            ok = True
        except Exception as error:
            poison = is_poison(error)
        if ok:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            handled += 1
        elif poison:
            sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"],
                                          VisibilityTimeout=0)
    return handled

# --- cell: redrive
def redrive(sqs, queue_url, clock):
    dlq_url = sqs.get_queue_url(QueueName=dead_letter_arn(sqs, queue_url).rsplit(":", 1)[1])["QueueUrl"]
    moved = 0
    while True:
        batch = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return moved
        for m in batch:
            sqs.send_message(QueueUrl=queue_url, MessageBody=m["Body"])
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=m["ReceiptHandle"])
            moved += 1

# --- cell: create_dlq_alarm
def create_dlq_alarm(cloudwatch, sqs, queue_url):
    """An alarm on queue_url's DLQ that goes off when a message is in it; returns the alarm's name."""
    dlq_name = dead_letter_arn(sqs, queue_url).split(":")[-1]
    name = f"{dlq_name}-not-empty"
    cloudwatch.put_metric_alarm(
        AlarmName=name, Namespace="AWS/SQS", MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": dlq_name}], Statistic="Maximum", Period=60,
        EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching")
    return name
