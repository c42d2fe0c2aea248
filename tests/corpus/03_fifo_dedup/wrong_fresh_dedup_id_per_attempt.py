# expect: lose publish_retry_after_timeout_sends_once publish_resend_after_restart_is_deduplicated
# Misconception: "a timeout means the send failed, so the retry is a new message with a new ID".
# SQS had already accepted the first attempt: a fresh MessageDeduplicationId makes the retry a
# second message, and the order is shipped twice.
# (Wrong only in publish; the other cells are the reference solution.)
# --- cell: publish
import uuid


def publish(sqs, queue_url, order, clock):
    for attempt in range(1, 6):
        try:
            return sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(order),
                                    MessageGroupId=order["customer"],
                                    MessageDeduplicationId=str(uuid.uuid4()))["MessageId"]
        except (BotoCoreError, ClientError):
            if attempt == 5:
                raise
            clock.sleep(attempt)

# --- cell: place_order
def place_order(producer, order):
    with producer.db:
        producer.save_order(order)
        producer.db.execute("INSERT INTO outbox (order_id, body) VALUES (?, ?)",
                            (order["order_id"], json.dumps(order)))

# --- cell: consume_in_order
def consume_in_order(sqs, queue_url, handle):
    response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                   AttributeNames=["MessageGroupId"])
    held_back, done = set(), 0
    for message in response.get("Messages", []):
        group = message["Attributes"]["MessageGroupId"]
        if group in held_back:
            continue
        try:
            handle(message["Body"])
        except Exception:
            held_back.add(group)
            continue
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        done += 1
    return done
