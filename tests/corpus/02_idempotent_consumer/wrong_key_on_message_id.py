# expect: lose producer_retry_charged_once
# Misconception: "SQS's MessageId identifies the event". A redelivery keeps its MessageId, so crashes
# and SQS's own duplicates are caught, but a producer's retry is a new message with a new MessageId:
# the same order is charged twice.
# --- cell: consume_once
def consume_once(sqs, queue_url, db):
    db.execute("CREATE TABLE IF NOT EXISTS processed (message_id TEXT PRIMARY KEY)")
    for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        order_id = idempotency_key(message["Body"])
        if order_id is None:
            continue
        try:
            with db:
                new = db.execute("INSERT OR IGNORE INTO processed (message_id) VALUES (?)",
                                 (message["MessageId"],)).rowcount
                if new:
                    db.apply_effect(order_id, "charge")
        except Exception:
            continue
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
