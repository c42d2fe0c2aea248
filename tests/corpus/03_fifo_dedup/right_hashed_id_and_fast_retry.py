# expect: full
# Alternative: the deduplication ID is a SHA-256 of the order's canonical JSON (the same order
# always gives the same ID), the retry loop names the transient errors one by one, the order and its
# event are written with explicit commit/rollback, and a failed group's messages are made visible
# again at once (ChangeMessageVisibility 0), the failed one first.
# --- cell: publish
import hashlib

from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

TRANSIENT = (ReadTimeoutError, ConnectTimeoutError, EndpointConnectionError)
THROTTLED = {"ThrottlingException", "RequestThrottled"}


def publish(sqs, queue_url, order, clock):
    body = json.dumps(order, sort_keys=True)
    dedup_id = hashlib.sha256(body.encode()).hexdigest()
    attempt = 0
    while True:
        attempt += 1
        try:
            response = sqs.send_message(QueueUrl=queue_url, MessageBody=body,
                                        MessageGroupId=order["customer"], MessageDeduplicationId=dedup_id)
            return response["MessageId"]
        except TRANSIENT:
            if attempt >= 5:
                raise
        except ClientError as error:
            if error.response["Error"]["Code"] not in THROTTLED or attempt >= 5:
                raise
        clock.sleep(0.5 * attempt)

# --- cell: place_order
def place_order(producer, order):
    db = producer.db
    try:
        producer.save_order(order)
        db.execute("INSERT INTO outbox (order_id, body, sent) VALUES (?, ?, 0)",
                   (order["order_id"], json.dumps(order, sort_keys=True)))
    except Exception:
        db.rollback()
        raise
    db.commit()

# --- cell: consume_in_order
def consume_in_order(sqs, queue_url, handle):
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20,
                                   AttributeNames=["MessageGroupId"]).get("Messages", [])
    failed_groups, retry_now, done = set(), [], 0
    for message in messages:
        group = message["Attributes"]["MessageGroupId"]
        if group not in failed_groups:
            try:
                handle(message["Body"])
            except Exception:
                failed_groups.add(group)
            else:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                done += 1
                continue
        retry_now.append(message)
    for message in retry_now:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"],
                                      VisibilityTimeout=0)
    return done
