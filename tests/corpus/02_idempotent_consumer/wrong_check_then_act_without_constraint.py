# expect: lose two_consumers_charge_once every_fault_point_exactly_once
# Misconception: "check whether the key was processed, then do the work and record it" is enough.
# Everything is in one transaction, so crashes are survived; but the table has no uniqueness
# constraint, so two consumers holding the same message (its lease ran out mid-work) both pass the
# check before either records the key, and both charge.
# --- cell: consume_once
def consume_once(sqs, queue_url, db):
    db.execute("CREATE TABLE IF NOT EXISTS processed (key TEXT)")
    for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        key = idempotency_key(message["Body"])
        if key is None:
            continue
        try:
            with db:
                if db.execute("SELECT 1 FROM processed WHERE key = ?", (key,)).fetchone() is None:
                    db.apply_effect(key, "charge")
                    db.execute("INSERT INTO processed (key) VALUES (?)", (key,))
        except Exception:
            continue
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
