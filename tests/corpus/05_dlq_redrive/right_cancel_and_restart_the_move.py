# expect: full
# Alternative: the consumer sorts the batch first (finished, poison, retryable) and acts on each
# group afterwards, releasing poison with one ChangeMessageVisibilityBatch; the redrive cancels any
# move task a killed run left running and starts its own, then polls a bounded number of times;
# the alarm reads the DLQ's name from GetQueueUrl's answer and alarms on a Maximum >= 1.

# --- cell: redrive_policy
def redrive_policy(dlq_arn, retries):
    if retries < 0:
        raise ValueError("retries must be 0 or more")
    policy = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": retries + 1}
    if retries == 0:
        policy["maxReceiveCount"] = 2  # AWS advises against 1: SQS counts receives, not failures
    return json.dumps(policy)

# --- cell: is_poison
def is_poison(error):
    return isinstance(error, ValueError | KeyError | TypeError)

# --- cell: consume_with_dlq
def consume_with_dlq(sqs, queue_url, handle, is_poison):
    finished, poison = [], []
    for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20).get("Messages", []):
        try:
            handle(m["Body"])
            finished.append(m)
        except Exception as error:
            if is_poison(error):
                poison.append(m)
    if poison:
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=[
            {"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0} for m in poison])
    for m in finished:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    return len(finished)

# --- cell: redrive
def redrive(sqs, queue_url, clock):
    dlq_arn = dead_letter_arn(sqs, queue_url)
    for task in sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]:
        if task["Status"] == "RUNNING":  # left by a run that was killed: what it moved stays moved
            sqs.cancel_message_move_task(TaskHandle=task["TaskHandle"])
    sqs.start_message_move_task(SourceArn=dlq_arn)
    for _ in range(300):
        task = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]
        if task["Status"] == "COMPLETED":
            return task["ApproximateNumberOfMessagesMoved"]
        if task["Status"] != "RUNNING":
            raise RuntimeError(f"redrive {task['Status']}: {task.get('FailureReason')}")
        clock.sleep(1)
    raise TimeoutError("redrive still running after 300 polls")

# --- cell: create_dlq_alarm
def create_dlq_alarm(cloudwatch, sqs, queue_url):
    dlq_url = sqs.get_queue_url(QueueName=dead_letter_arn(sqs, queue_url).split(":")[-1])["QueueUrl"]
    dlq_name = dlq_url.rstrip("/").split("/")[-1]
    cloudwatch.put_metric_alarm(
        AlarmName="dlq:" + dlq_name, AlarmDescription="a message reached the dead-letter queue",
        Namespace="AWS/SQS", MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": dlq_name}], Statistic="Maximum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching")
    return "dlq:" + dlq_name
