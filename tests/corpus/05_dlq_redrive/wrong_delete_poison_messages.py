# expect: lose consume_with_dlq_returns_what_it_finished_and_carries_on poison_reaches_the_dlq_quickly never_charges_twice_or_loses_an_order_under_crashes
# Misconception: "a message that can never succeed is garbage: delete it so it stops coming back".
# It never reaches the DLQ, so nobody sees it and there is nothing to redrive after the fix: the
# orders that were only poison to the buggy version are lost.
# --- edit: consume_with_dlq
# replace:
            if is_poison(error):  # back at once: its next receives come now, and SQS moves it to the DLQ
                sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"],
                                              VisibilityTimeout=0)
            continue  # retryable: SQS delivers it again when its visibility timeout ends
# with:
            if not is_poison(error):
                continue
            print("dropping a bad message:", error)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            continue
