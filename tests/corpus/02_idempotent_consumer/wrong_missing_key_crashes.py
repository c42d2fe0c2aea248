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


# --- cell: consume_with_claim
def consume_with_claim(sqs, queue_url, dynamodb, db, now, claim_seconds=60):
    response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    for message in response.get("Messages", []):
        key = idempotency_key(message["Body"])
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
