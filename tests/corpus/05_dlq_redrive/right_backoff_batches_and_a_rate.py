# expect: full
# Alternative: retryable failures back off exponentially with ChangeMessageVisibility (the receive
# count says how many tries so far), poison is handed back and successes deleted in batches; the
# policy stores maxReceiveCount as a string, as the API examples do; the alarm is a >= 1 Sum; the
# redrive names the destination and a rate, looks for a task still running from a killed run (by
# its listed TaskHandle) before starting its own, and waits with a deadline on the clock.

# --- cell: redrive_policy
def redrive_policy(dlq_arn, retries):
    return json.dumps({"maxReceiveCount": str(1 + retries if retries >= 1 else 2), "deadLetterTargetArn": dlq_arn})

# --- cell: is_poison
POISON = (ValueError, KeyError, TypeError)

def is_poison(error):
    return isinstance(error, POISON)

# --- cell: consume_with_dlq
def consume_with_dlq(sqs, queue_url, handle, is_poison):
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20,
                                   MessageSystemAttributeNames=["ApproximateReceiveCount"]).get("Messages", [])
    done, back = [], []
    for i, m in enumerate(messages):
        try:
            handle(m["Body"])
        except Exception as error:
            tries = int(m["Attributes"]["ApproximateReceiveCount"])
            delay = 0 if is_poison(error) else min(30 * 2 ** (tries - 1), 900)
            back.append({"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": delay})
            continue
        done.append({"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]})
    if back:
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=back)
    if done:
        return len(sqs.delete_message_batch(QueueUrl=queue_url, Entries=done).get("Successful", []))
    return 0

# --- cell: redrive
def redrive(sqs, queue_url, clock):
    source_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    dlq_arn = dead_letter_arn(sqs, queue_url)
    running = [t for t in sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
               if t["Status"] == "RUNNING"]
    if running:
        handle = running[0]["TaskHandle"]  # a killed run's task: wait for it
    else:
        handle = sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=source_arn,
                                             MaxNumberOfMessagesPerSecond=2)["TaskHandle"]
    deadline = clock.now() + 900
    while clock.now() < deadline:
        tasks = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
        task = next(t for t in tasks if t.get("TaskHandle") in (handle, None))
        if task["Status"] in ("COMPLETED", "FAILED", "CANCELLED"):
            if task["Status"] != "COMPLETED":
                raise RuntimeError(task.get("FailureReason", task["Status"]))
            return task["ApproximateNumberOfMessagesMoved"]
        clock.sleep(2)
    raise TimeoutError("the move task did not finish within 15 minutes")

# --- cell: create_dlq_alarm
def create_dlq_alarm(cloudwatch, sqs, queue_url):
    arn = dead_letter_arn(sqs, queue_url)
    queue_name = arn.rsplit(":", 1)[1]
    cloudwatch.put_metric_alarm(
        AlarmName=f"dead-letters-in-{queue_name}", Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible", Dimensions=[{"Name": "QueueName", "Value": queue_name}],
        Statistic="Sum", Period=60, EvaluationPeriods=1, DatapointsToAlarm=1, Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold", TreatMissingData="notBreaching")
    return f"dead-letters-in-{queue_name}"
