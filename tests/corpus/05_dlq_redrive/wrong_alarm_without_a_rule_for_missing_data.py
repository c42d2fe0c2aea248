# expect: lose dlq_alarm_stays_quiet_while_the_dlq_is_empty
# Misconception: "an empty DLQ reports 0, so missing data never happens". An idle queue may publish no
# data at all; CloudWatch then follows the alarm's TreatMissingData, whose default ("missing") leaves
# the alarm in INSUFFICIENT_DATA: neither quiet nor in alarm, and noisy on a dashboard. The contract asks
# for no data to count as not breaching.
# --- edit: create_dlq_alarm
# replace:
        EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching")
# with:
        EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold")
