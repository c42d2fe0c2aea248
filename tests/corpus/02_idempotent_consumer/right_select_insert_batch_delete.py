# expect: full
# Alternative: a key function that lets json and indexing fail into None; the consumer checks with
# SELECT, then INSERTs (PRIMARY KEY: a racing consumer fails on the lock or the constraint) and
# charges, with explicit commit/rollback (a repeated order id with other fields, compared as parsed
# JSON, is left for the dead-letter queue), and deletes the handled messages in one
# DeleteMessageBatch. The claim reads the refused record from the error (ALL_OLD) instead of a GetItem.
# --- cell: idempotency_key
import json

def idempotency_key(body):
    try:
        key = json.loads(body)["order_id"]
    except (ValueError, TypeError, KeyError):
        return None
    if isinstance(key, str) and key.strip():
        return key
    return None


# --- cell: consume_once
import json
import sqlite3

def consume_once(sqs, queue_url, db):
    db.execute("CREATE TABLE IF NOT EXISTS processed (key TEXT NOT NULL PRIMARY KEY, at TEXT, amount INTEGER, body TEXT)")
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    handled = []
    for index, message in enumerate(messages):
        key = idempotency_key(message["Body"])
        if key is None:
            continue
        order = json.loads(message["Body"])
        try:
            seen = db.execute("SELECT body FROM processed WHERE key = ?", (key,)).fetchone()
            if seen is None:
                db.execute("INSERT INTO processed (key, at, body) VALUES (?, datetime('now'), ?)",
                           (key, json.dumps(order, sort_keys=True)))
                db.apply_effect(key, "charge")
            elif json.loads(seen[0]) != order:
                db.rollback()          # the same order id with other fields: leave it for the DLQ
                continue
            db.commit()
        except sqlite3.IntegrityError:
            db.rollback()              # another consumer recorded it first: done already
        except Exception:
            db.rollback()
            continue
        handled.append({"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]})
    if handled:
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=handled)


# --- cell: consume_with_claim
from botocore.exceptions import ClientError

def consume_with_claim(sqs, queue_url, dynamodb, db, now, claim_seconds=60):
    for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        key = order_key(message["Body"])
        if key is None:
            continue
        t = now()
        try:
            dynamodb.put_item(
                TableName=CLAIMS_TABLE,
                Item={"id": {"S": key}, "status": {"S": "INPROGRESS"},
                      "in_progress_expiration": {"N": str(t + claim_seconds)}},
                ConditionExpression="attribute_not_exists(#id) OR (#s = :p AND #exp < :t)",
                ExpressionAttributeNames={"#id": "id", "#s": "status", "#exp": "in_progress_expiration"},
                ExpressionAttributeValues={":p": {"S": "INPROGRESS"}, ":t": {"N": str(t)}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                continue
            old = error.response.get("Item") or {}
            if old.get("status") == {"S": "COMPLETED"}:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            continue
        try:
            db.apply_effect(key, "charge")
            db.commit()
        except Exception:
            db.rollback()
            dynamodb.delete_item(TableName=CLAIMS_TABLE, Key={"id": {"S": key}})
            continue
        dynamodb.put_item(TableName=CLAIMS_TABLE, Item={"id": {"S": key}, "status": {"S": "COMPLETED"}})
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
