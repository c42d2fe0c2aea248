# expect: lose charge_order_charges_each_order_once never_charges_twice_or_loses_an_order_under_crashes replaying_twice_is_harmless
# Misconception: "messages in the DLQ never succeeded, so replaying them is safe". A replay can
# happen twice, and a crash between the charge and the delete delivers a message again: without
# a record of the charged order ids, the customer pays twice.

# --- cell: redrive_policy
def redrive_policy(dlq_arn, retries):
    """The RedrivePolicy (JSON) that gives every message its first try and `retries` retries."""
    return json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": retries + 1})

# --- cell: is_poison
def is_poison(error):
    """True if the failure comes from the message itself, so no retry can ever succeed."""
    return isinstance(error, (ValueError, KeyError, TypeError))

# --- cell: charge_order
def charge_order(db, body, parse):
    order = parse(body)
    db.apply_effect(order["order_id"], "charge")
    db.commit()
    return True

# --- cell: consume_with_dlq
def consume_with_dlq(sqs, queue_url, handle, is_poison):
    """One step: handle up to 10 messages; poison goes back at once, retryable failures wait."""
    done = 0
    for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        try:
            handle(message["Body"])
        except Exception as error:
            if is_poison(error):
                sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"],
                                              VisibilityTimeout=0)
            continue  # a retryable failure: SQS delivers it again after its visibility timeout
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        done += 1
    return done

# --- cell: redrive
def redrive(sqs, queue_url, clock):
    """Move every message of queue_url's DLQ back to queue_url; wait for it; return how many moved."""
    dlq_arn = dead_letter_arn(sqs, queue_url)
    sqs.start_message_move_task(SourceArn=dlq_arn)
    while True:
        task = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=1)["Results"][0]
        if task["Status"] != "RUNNING":
            break
        clock.advance(1)
    if task["Status"] != "COMPLETED":
        raise RuntimeError(f"the redrive ended {task['Status']}: {task.get('FailureReason', '')}")
    return task["ApproximateNumberOfMessagesMoved"]

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
