# expect: lose keeps_failed_messages_for_retry never_loses_a_message_under_any_crash
# Misconception: "delete first, so a crash can never cause a second charge". A crash (or a
# failed handler) between the delete and the charge loses the order for good.
# --- cell: consume_once
def consume_once(sqs, queue_url, handle):
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    done = 0
    for m in messages:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
        try:
            handle(m["Body"])
            done += 1
        except Exception:
            pass
    return done
