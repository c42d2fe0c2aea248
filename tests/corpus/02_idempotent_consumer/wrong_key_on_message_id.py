# expect: lose producer_retry_charged_once
# Misconception: "SQS's MessageId identifies the event". A redelivery keeps its MessageId, so crashes
# and SQS's own duplicates are caught, but a producer's retry is a new message with a new MessageId:
# the same order is charged twice.
# --- cell: idempotency_key
import json

def idempotency_key(body):
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    key = data.get("order_id")
    return key if isinstance(key, str) and key else None


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
