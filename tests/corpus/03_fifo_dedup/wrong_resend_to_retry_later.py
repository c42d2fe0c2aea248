# expect: lose failed_message_holds_back_its_group order_survives_every_crash
# Misconception: "retry a failed message by sending it again and deleting the original", a
# standard-queue habit. On a FIFO queue the copy carries the original's deduplication ID, so SQS
# accepts it and drops it (the original was sent less than 5 minutes ago): the order is lost.
# (Wrong only in consume_in_order; the other cells are the reference solution.)
# --- cell: consume_in_order
def consume_in_order(sqs, queue_url, handle):
    response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"])
    held_back, done = set(), 0
    for message in response.get("Messages", []):
        group = message["Attributes"]["MessageGroupId"]
        if group in held_back:
            continue
        try:
            handle(message["Body"])
        except Exception:
            sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"], MessageGroupId=group,
                             MessageDeduplicationId=message["Attributes"]["MessageDeduplicationId"])
            held_back.add(group)
        else:
            done += 1
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return done
