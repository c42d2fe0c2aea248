# expect: lose dlq_alarm_goes_off_when_a_message_is_dead_lettered
# Misconception: "five minutes is CloudWatch's usual period, close enough". An alarm over 5-minute periods
# can wait up to five minutes after the move before it looks, and the contract asks for ALARM within one
# minute: SQS publishes its metrics every minute, so one 60-second period is the shortest it can be.
# --- edit: create_dlq_alarm
# replace:
        Dimensions=[{"Name": "QueueName", "Value": dlq_name}], Statistic="Maximum", Period=60,
# with:
        Dimensions=[{"Name": "QueueName", "Value": dlq_name}], Statistic="Maximum", Period=300,
