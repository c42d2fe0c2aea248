# expect: lose same_key_other_payload_left_for_dlq
# Misconception: "a key seen before means a duplicate". The record keeps only the key, so the same
# order id with another amount is deleted as if it were a copy: the change is dropped silently,
# where it should have gone to the dead-letter queue for a person to decide.
# --- cell: consume_once
def consume_once(sqs, queue_url, db):
    db.execute("CREATE TABLE IF NOT EXISTS processed (key TEXT PRIMARY KEY)")
    response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20)
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
