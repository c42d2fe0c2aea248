# expect: lose producer_retry_charged_once duplicate_delivery_charged_once crash_after_charge_charged_once crash_before_commit_not_lost failed_charge_is_retried two_consumers_charge_once every_fault_point_exactly_once
# Misconception: "keep the processed keys in a set in memory". A real process loses the set when it
# dies, and another consumer process has a set of its own, so it protects against nothing that
# matters. Here the set also outlives the runs in one kernel, so it "remembers" order ids from an
# earlier run and deletes their messages uncharged: wrong in both directions.
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
PROCESSED = set()

def consume_once(sqs, queue_url, db):
    for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        key = idempotency_key(message["Body"])
        if key is None:
            continue
        if key not in PROCESSED:
            try:
                db.apply_effect(key, "charge")
                db.commit()
            except Exception:
                db.rollback()
                continue
            PROCESSED.add(key)
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
