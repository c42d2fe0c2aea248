# expect: lose retryable_failure_waits_and_is_charged_once
# Misconception: "a failed message should come back as soon as possible". Every failure is handed
# back at once with visibility 0, the retryable ones too: during a short outage a good order burns its
# receives in a second and lands in the dead-letter queue.
# --- edit: consume_batch
# replace:
                if isinstance(error, POISON):  # ...handed back at once, on its way to the DLQ
                    sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"],
                                                  VisibilityTimeout=0)
# with:
                sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"],
                                              VisibilityTimeout=0)  # any failure: back at once
