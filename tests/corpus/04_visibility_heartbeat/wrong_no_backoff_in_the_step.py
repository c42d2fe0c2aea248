# expect: lose failure_releases_the_message_with_backoff one_failure_does_not_stop_the_batch
# Misconception: "a failed job's message will come back anyway: skip it and go on". It comes back
# only when its lease runs out, 30 s later for every failed message alike: no backoff, and a herd.
# --- edit: consume_step
# replace:
            attempt = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
            sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"],
                                          VisibilityTimeout=backoff(attempt, rng))
            continue
# with:
            continue
