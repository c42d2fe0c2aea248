# expect: lose dlq_alarm_goes_off_when_a_message_is_dead_lettered
# Misconception: "the RedrivePolicy names the DLQ, so that is what the alarm watches". The policy holds
# the DLQ's ARN; CloudWatch's AWS/SQS metrics name a queue by its QueueName, so an alarm on the ARN
# watches a metric no queue publishes.
# --- edit: create_dlq_alarm
# replace:
    dlq_name = dead_letter_arn(sqs, queue_url).split(":")[-1]
    name = f"{dlq_name}-not-empty"
# with:
    dlq_name = dead_letter_arn(sqs, queue_url)
    name = f"{dlq_name.split(':')[-1]}-not-empty"
