# expect: full
# Alternative: is_poison lists the retryable errors it knows and treats the message's own errors as
# poison; the consumer handles and deletes one message at a time; the redrive is
# done by hand, the way it was before StartMessageMoveTask existed: receive from the DLQ, send to
# the source queue, then delete from the DLQ (send before delete: a kill in between duplicates,
# never loses, and the idempotent charge absorbs the duplicate), until the DLQ holds nothing, not
# even messages a killed run had received and still holds in flight.

# --- cell: redrive_policy
def redrive_policy(dlq_arn, retries):
    """The RedrivePolicy (JSON) that gives every message its first try and `retries` retries."""
    deliveries = max(retries + 1, 2)  # SQS counts receives: one lost response must not dead-letter a message
    return json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": deliveries})

# --- cell: is_poison
RETRYABLE = (ConnectionError, TimeoutError, OSError)


def is_poison(error):
    if isinstance(error, RETRYABLE):
        return False
    return isinstance(error, (ValueError, LookupError, TypeError))

# --- cell: consume_with_dlq
def consume_with_dlq(sqs, queue_url, handle, is_poison):
    handled = 0
    for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20).get("Messages", []):
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
    for _ in range(60):
        batch = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=20).get("Messages", [])
        for m in batch:
            sqs.send_message(QueueUrl=queue_url, MessageBody=m["Body"])
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=m["ReceiptHandle"])
            moved += 1
        if batch:
            continue
        left = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        if int(left["ApproximateNumberOfMessages"]) + int(left["ApproximateNumberOfMessagesNotVisible"]) == 0:
            return moved
        clock.sleep(5)  # a killed run still holds some: wait for their visibility timeout
    raise TimeoutError("the dead-letter queue did not empty")

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
