# expect: lose poison_reaches_the_dlq_quickly never_charges_twice_or_loses_an_order_under_crashes fix_and_redrive_charges_every_order_once replaying_twice_is_harmless
# Misconception: "a message that can never succeed is garbage: delete it so it stops coming back".
# It never reaches the DLQ, so nobody sees it and there is nothing to redrive after the fix: the
# orders that were only poison to the buggy version are lost.
# --- cell: consume_with_dlq
def consume_with_dlq(sqs, queue_url, handle, is_poison):
    done = 0
    for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        try:
            handle(message["Body"])
        except Exception as error:
            if not is_poison(error):
                continue
            print("dropping a bad message:", error)
        else:
            done += 1
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return done
