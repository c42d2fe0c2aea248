# expect: lose claim_expires_after_a_crash claim_at_least_once_under_every_fault
# Pitfall: an in-progress claim without an expiry. The claim is a plain "attribute_not_exists(id)"
# conditional put, so a consumer that dies holding it leaves it INPROGRESS for ever: every later
# delivery is refused and the order is never charged.
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
# --- cell: consume_with_claim
def consume_with_claim(sqs, queue_url, dynamodb, db, now, claim_seconds=60):
    response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    for message in response.get("Messages", []):
        key = order_key(message["Body"])
        if key is None:
            continue
        item_key = {"id": {"S": key}}
        try:
            dynamodb.put_item(
                TableName=CLAIMS_TABLE,
                Item={**item_key, "status": {"S": "INPROGRESS"},
                      "in_progress_expiration": {"N": str(now() + claim_seconds)}},
                ConditionExpression="attribute_not_exists(id)",
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            record = dynamodb.get_item(TableName=CLAIMS_TABLE, Key=item_key, ConsistentRead=True).get("Item", {})
            if record.get("status", {}).get("S") == "COMPLETED":
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            continue
        try:
            db.apply_effect(key, "charge")
            db.commit()
        except Exception:
            db.rollback()
            dynamodb.delete_item(TableName=CLAIMS_TABLE, Key=item_key)
            continue
        dynamodb.update_item(TableName=CLAIMS_TABLE, Key=item_key, UpdateExpression="SET #status = :completed",
                             ExpressionAttributeNames={"#status": "status"},
                             ExpressionAttributeValues={":completed": {"S": "COMPLETED"}})
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
