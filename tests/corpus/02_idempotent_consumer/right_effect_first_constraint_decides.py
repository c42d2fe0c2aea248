# expect: full
# Alternative: the charge first and the record second, in the same transaction: when the INSERT hits
# the PRIMARY KEY (a duplicate), the rollback takes the charge back too. One helper per message. The
# claim is taken with a conditional UpdateItem (which creates the item when absent).
# --- cell: idempotency_key
import json

def idempotency_key(body):
    if not isinstance(body, str):
        return None
    try:
        event = json.loads(body)
    except json.JSONDecodeError:
        return None
    order_id = event.get("order_id") if isinstance(event, dict) else None
    return order_id if type(order_id) is str and order_id != "" else None


# --- cell: consume_once
import json
import sqlite3

def _charge_once(db, key, payload):
    """True when the work for key is done (now or before), False to leave the message."""
    try:
        db.apply_effect(key, "charge")
        db.execute("INSERT INTO processed (key, payload) VALUES (?, ?)", (key, payload))
        db.commit()
    except sqlite3.IntegrityError:
        db.rollback()          # recorded before: the rollback undoes this second charge
        row = db.execute("SELECT payload FROM processed WHERE key = ?", (key,)).fetchone()
        return row is not None and row[0] == payload   # another payload under the same key: leave it
    except Exception:
        db.rollback()
        return False
    return True


def consume_once(sqs, queue_url, db):
    db.execute("CREATE TABLE IF NOT EXISTS processed (key TEXT PRIMARY KEY, payload TEXT)")
    for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        key = idempotency_key(message["Body"])
        payload = key and json.dumps(json.loads(message["Body"]), sort_keys=True)
        if key is not None and _charge_once(db, key, payload):
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


# --- cell: consume_with_claim
def _status(dynamodb, key):
    item = dynamodb.get_item(TableName=CLAIMS_TABLE, Key={"id": {"S": key}}, ConsistentRead=True).get("Item")
    return item["status"]["S"] if item else None


def consume_with_claim(sqs, queue_url, dynamodb, db, now, claim_seconds=60):
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    for message in messages:
        key = order_key(message["Body"])
        if key is None:
            continue
        try:
            dynamodb.update_item(
                TableName=CLAIMS_TABLE, Key={"id": {"S": key}},
                UpdateExpression="SET #st = :ip, in_progress_expiration = :until",
                ConditionExpression="attribute_not_exists(id) OR (#st = :ip AND in_progress_expiration < :now)",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues={":ip": {"S": "INPROGRESS"}, ":now": {"N": str(now())},
                                           ":until": {"N": str(now() + claim_seconds)}},
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            if _status(dynamodb, key) == "COMPLETED":
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            continue
        try:
            with db:
                db.apply_effect(key, "charge")
        except Exception:
            dynamodb.delete_item(TableName=CLAIMS_TABLE, Key={"id": {"S": key}})
            continue
        dynamodb.update_item(TableName=CLAIMS_TABLE, Key={"id": {"S": key}}, UpdateExpression="SET #st = :done",
                             ExpressionAttributeNames={"#st": "status"},
                             ExpressionAttributeValues={":done": {"S": "COMPLETED"}})
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
