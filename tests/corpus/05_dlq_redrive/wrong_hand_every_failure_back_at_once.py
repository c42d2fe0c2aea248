# expect: lose consume_with_dlq_returns_what_it_finished_and_carries_on retried_message_is_deleted_once_it_succeeds retryable_failures_are_retried_not_dead_lettered
# Misconception: "a fast retry is a good retry". Every failure is handed back with visibility 0, so
# during an outage a good order is received maxReceiveCount times in a second and dead-lettered.
# --- edit: consume_with_dlq
# replace:
            if is_poison(error):  # back at once: its next receives come now, and SQS moves it to the DLQ
                sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"],
                                              VisibilityTimeout=0)
# with:
            sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"],
                                          VisibilityTimeout=0)
