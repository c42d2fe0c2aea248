# expect: full
# Alternative: a key function built on isinstance checks first; a consumer that short-polls one
# message at a time, keeps a SHA-256 digest of the canonical payload in a table of its own (UNIQUE
# order id, SELECT then INSERT in one transaction; a racing consumer's transaction fails on the
# lock or the constraint and leaves the message), and a claim that reads its own outcome with a
# strongly consistent GetItem and marks COMPLETED with a conditional PutItem; both short-poll.
# --- cell: idempotency_key
import json

def idempotency_key(body):
    if not isinstance(body, str) or not body.strip().startswith("{"):
        return None
    try:
        order_id = json.loads(body).get("order_id")
    except ValueError:
        return None
    return order_id if isinstance(order_id, str) and len(order_id) > 0 else None


# --- cell: consume_once
import hashlib
import sqlite3

def consume_once(sqs, queue_url, db):
    db.execute("CREATE TABLE IF NOT EXISTS orders_done (order_id TEXT NOT NULL UNIQUE, digest TEXT NOT NULL)")
    for message in sqs.receive_message(QueueUrl=queue_url).get("Messages", []):
        key = idempotency_key(message["Body"])
        if not key:
            continue
        digest = hashlib.sha256(json.dumps(json.loads(message["Body"]), sort_keys=True).encode()).hexdigest()
        try:
            row = db.execute("SELECT digest FROM orders_done WHERE order_id = ?", (key,)).fetchone()
            if row is None:
                db.execute("INSERT INTO orders_done (order_id, digest) VALUES (?, ?)", (key, digest))
                db.apply_effect(key, "charge")
            elif row[0] != digest:
                db.rollback()
                continue
            db.commit()
        except (sqlite3.Error, Exception):
            db.rollback()
            continue
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


# --- cell: consume_with_claim
def consume_with_claim(sqs, queue_url, dynamodb, db, now, claim_seconds=60):
    for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        key = order_key(message["Body"])
        if not key:
            continue
        item = {"id": {"S": key}}
        try:
            dynamodb.put_item(
                TableName=CLAIMS_TABLE,
                Item={"id": {"S": key}, "status": {"S": "INPROGRESS"},
                      "in_progress_expiration": {"N": str(int(now()) + claim_seconds)}},
                ConditionExpression="attribute_not_exists(id) OR (#s = :p AND in_progress_expiration < :now)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":p": {"S": "INPROGRESS"}, ":now": {"N": str(int(now()))}})
        except dynamodb.exceptions.ConditionalCheckFailedException:
            current = dynamodb.get_item(TableName=CLAIMS_TABLE, Key=item, ConsistentRead=True).get("Item")
            if current and current["status"]["S"] == "COMPLETED":
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            continue
        try:
            db.apply_effect(key, "charge")
            db.commit()
        except Exception:
            db.rollback()
            dynamodb.delete_item(TableName=CLAIMS_TABLE, Key=item)
            continue
        dynamodb.put_item(TableName=CLAIMS_TABLE, Item={"id": {"S": key}, "status": {"S": "COMPLETED"}},
                          ConditionExpression="#s = :p", ExpressionAttributeNames={"#s": "status"},
                          ExpressionAttributeValues={":p": {"S": "INPROGRESS"}})
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
