# expect: lose dlq_alarm_goes_off_when_a_message_is_dead_lettered dlq_alarm_stays_quiet_while_the_dlq_is_empty
# Misconception: "watch the queue the consumers read". Its depth is ordinary traffic (the alarm cries
# wolf), and once the poison message has moved to the DLQ the source queue looks healthy.
# --- cell: create_dlq_alarm
def create_dlq_alarm(cloudwatch, sqs, queue_url):
    name = queue_url.rsplit("/", 1)[-1]
    cloudwatch.put_metric_alarm(
        AlarmName=f"{name}-backlog", Namespace="AWS/SQS", MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": name}], Statistic="Maximum", Period=60,
        EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold")
    return f"{name}-backlog"
