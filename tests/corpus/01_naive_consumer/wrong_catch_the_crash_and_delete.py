# expect: lose keeps_failed_messages_for_retry never_loses_a_message_under_any_crash
# Misconception: "catch everything (even BaseException) so the consumer never dies, then delete".
# A dead process cannot carry on: catching the bench's crash gains nothing, and deleting a
# message whose handler failed still loses it.
# --- cell: consume_once
def consume_once(sqs, queue_url, handle):
    done = 0
    for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        try:
            handle(m["Body"])
        except BaseException:
            pass
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
        done += 1
    return done
