# expect: lose malformed_body_has_no_key malformed_message_left_for_dlq
# Misconception: "every message has an order_id" (or: "a bad message should crash the consumer").
# json.loads(body)["order_id"] raises on a malformed body; the consumer dies on it, again on every
# redelivery, and takes the messages received in the same batch down with it, until the redrive
# policy moves them to the dead-letter queue uncharged.
# --- cell: idempotency_key
import json

def idempotency_key(body):
    return json.loads(body)["order_id"]
# --- cell: consume_once
def consume_once(sqs, queue_url, db):
    db.execute("CREATE TABLE IF NOT EXISTS processed (key TEXT PRIMARY KEY)")
    response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    for message in response.get("Messages", []):
        key = idempotency_key(message["Body"])
        if key is None:
            continue
        try:
            with db:
                if db.execute("INSERT OR IGNORE INTO processed (key) VALUES (?)", (key,)).rowcount:
                    db.apply_effect(key, "charge")
        except Exception:
            continue
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
