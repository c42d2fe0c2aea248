# expect: lose failed_message_holds_back_its_group other_groups_keep_flowing order_survives_every_crash
# Misconception: "one bad message must not block the queue, so go on with the next one". On a
# FIFO queue the next one may be the same customer's later order: it is charged first, and the
# failed one after it, when it comes back.
# (Wrong only in consume_in_order; the other cells are the reference solution.)
# --- cell: consume_in_order
def consume_in_order(sqs, queue_url, handle):
    done = 0
    for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        try:
            handle(message["Body"])
        except Exception:
            continue
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        done += 1
    return done
