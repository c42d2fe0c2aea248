# expect: lose redrive_moves_the_dlq_back_to_its_source_queue fix_and_redrive_charges_every_order_once replaying_twice_is_harmless
# Misconception: "ListMessageMoveTasks lists every task with its TaskHandle, so find mine by handle".
# A listed task carries its TaskHandle only while it is RUNNING: once it finishes, the lookup raises
# KeyError and the operator's script fails, although the move itself went on. (Seen from a learner
# trying the lesson: the incident tests passed while the script crashed, until the bench counted an
# operator's error as a failed run.)

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
    dlq_arn = dead_letter_arn(sqs, queue_url)
    handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
        task = next(t for t in tasks if t["TaskHandle"] == handle)
        if task["Status"] != "RUNNING":
            break
        clock.advance(1)
    if task["Status"] != "COMPLETED":
        raise RuntimeError(f"the redrive ended {task['Status']}")
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

