# expect: lose dlq_alarm_goes_off_when_a_message_is_dead_lettered
# Misconception: "count the messages sent to the DLQ". NumberOfMessagesSent counts SendMessage calls;
# a message that SQS moves to the DLQ after failed receives is not counted ("Using dead-letter
# queues in Amazon SQS"), so this alarm never sees the failures it is for.
# --- cell: create_dlq_alarm
def create_dlq_alarm(cloudwatch, sqs, queue_url):
    dlq_name = dead_letter_arn(sqs, queue_url).split(":")[-1]
    cloudwatch.put_metric_alarm(
        AlarmName="dlq-arrivals", Namespace="AWS/SQS", MetricName="NumberOfMessagesSent",
        Dimensions=[{"Name": "QueueName", "Value": dlq_name}], Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching")
    return "dlq-arrivals"
