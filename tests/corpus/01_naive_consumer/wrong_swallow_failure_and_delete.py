# expect: lose keeps_failed_messages_for_retry never_loses_a_message_under_any_crash
# Misconception: "an error in one message must not block the queue, so catch it and delete".
# The failed order is deleted without ever being charged.
# --- cell: consume_once
def consume_once(sqs, queue_url, handle):
    done = 0
    for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        try:
            handle(m["Body"])
        except Exception as exc:
            print("handler failed, skipping:", exc)
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
        done += 1
    return done
