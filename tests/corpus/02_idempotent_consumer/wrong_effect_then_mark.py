# expect: lose crash_after_charge_charged_once two_consumers_charge_once every_fault_point_exactly_once claim_blocks_a_second_consumer
# Misconception: "do the work, then note that it is done" as two separate steps. In SQLite: charge
# and commit, then record the key and commit; a crash between the two commits charges again on the
# redelivery. With DynamoDB: no INPROGRESS claim, only a COMPLETED record written after the charge,
# so a second consumer that receives the message mid-work sees nothing and charges too.
# --- cell: consume_once
def consume_once(sqs, queue_url, db):
    db.execute("CREATE TABLE IF NOT EXISTS processed (key TEXT PRIMARY KEY)")
    for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        key = idempotency_key(message["Body"])
        if key is None:
            continue
        try:
            if db.execute("SELECT 1 FROM processed WHERE key = ?", (key,)).fetchone() is None:
                db.apply_effect(key, "charge")
                db.commit()                                   # the charge is durable ...
                db.execute("INSERT INTO processed (key) VALUES (?)", (key,))
                db.commit()                                   # ... and, separately, the record
        except Exception:
            db.rollback()
            continue
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
# --- cell: consume_with_claim
def consume_with_claim(sqs, queue_url, dynamodb, db, now, claim_seconds=60):
    for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        key = order_key(message["Body"])
        if key is None:
            continue
        item_key = {"id": {"S": key}}
        record = dynamodb.get_item(TableName=CLAIMS_TABLE, Key=item_key, ConsistentRead=True).get("Item")
        if record is None:
            try:
                db.apply_effect(key, "charge")
                db.commit()
            except Exception:
                db.rollback()
                continue
            dynamodb.put_item(TableName=CLAIMS_TABLE, Item={**item_key, "status": {"S": "COMPLETED"}})
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
