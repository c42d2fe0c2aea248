# expect: lose crash_before_commit_not_lost failed_charge_is_retried every_fault_point_exactly_once claim_expires_after_a_crash claim_at_least_once_under_every_fault
# Misconception: "once the key is recorded, the message is handled". In SQLite: record the key and
# commit, then charge; a crash (or a failed charge) after the record loses the order, because the
# redelivery finds the key and deletes the message uncharged. With DynamoDB: any refused claim is
# taken as "done", so the claim of a consumer that died before charging makes the next delivery
# delete the message uncharged.
# --- cell: consume_once
def consume_once(sqs, queue_url, db):
    db.execute("CREATE TABLE IF NOT EXISTS processed (key TEXT PRIMARY KEY)")
    for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        key = idempotency_key(message["Body"])
        if key is None:
            continue
        try:
            if db.execute("INSERT OR IGNORE INTO processed (key) VALUES (?)", (key,)).rowcount:
                db.commit()                                   # the record is durable ...
                db.apply_effect(key, "charge")
                db.commit()                                   # ... and, separately, the charge
            else:
                db.commit()
        except Exception:
            db.rollback()
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
                ConditionExpression="attribute_not_exists(id) OR "
                                    "(#status = :in_progress AND in_progress_expiration < :now)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":in_progress": {"S": "INPROGRESS"}, ":now": {"N": str(now())}},
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            # someone claimed it, so it is taken care of
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
