# expect: lose shutdown_finishes_the_job_in_hand_and_releases_the_rest
# Misconception: "on SIGTERM just stop; SQS will redeliver whatever we held". It will -- after each
# message's visibility timeout. Until then the messages received but not started are stranded.
# --- edit: consume_step
# replace:
            for rest in messages[i:]:  # not started: hand them back now, not after their timeout
                sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=rest["ReceiptHandle"],
                                              VisibilityTimeout=0)
            break
# with:
            break  # SQS will give the rest to someone else (after their timeout)
