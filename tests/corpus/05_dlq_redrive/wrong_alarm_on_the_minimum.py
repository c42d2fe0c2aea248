# expect: lose dlq_alarm_goes_off_when_a_message_is_dead_lettered
# Misconception: "any statistic of a count will do". The Minimum of the minute's samples is above 0 only
# if a message sat in the DLQ for the whole minute: one that arrives mid-minute does not breach until the
# next, and one redriven within the minute never does. Maximum (or Sum) breaches on any sample above 0.
# --- edit: create_dlq_alarm
# replace:
        Dimensions=[{"Name": "QueueName", "Value": dlq_name}], Statistic="Maximum", Period=60,
# with:
        Dimensions=[{"Name": "QueueName", "Value": dlq_name}], Statistic="Minimum", Period=60,
