# expect: lose handles_and_deletes_every_message returns_the_number_handled
# Bug: deletes every message with the first message's receipt handle. The others are never deleted
# and come back, so every order is charged at least once (crash tests still pass) but some twice,
# and the queue takes many extra rounds to drain.
# --- cell: consume_once
def consume_once(sqs, queue_url, handle):
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    done = 0
    for m in messages:
        handle(m["Body"])
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])
        done += 1
    return done
