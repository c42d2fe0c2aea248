# expect: full
# Alternative: the request writes the order and its outbox row in one transaction, then sends at once
# with publish and marks the row sent (low latency; the relay only sends what a crash left behind);
# publish classifies botocore's errors by their base classes, waits with full jitter and names the
# event by customer and order; the consumer splits the batch into one queue per group and works each
# group until its first failure.
# --- cell: publish
import random

from botocore.exceptions import BotoCoreError, ConnectionError as BotoConnectionError, HTTPClientError


def publish(sqs, queue_url, order, clock):
    dedup_id = f"{order['customer']}/{order['order_id']}"
    last = None
    for attempt in range(5):
        if attempt:
            clock.sleep(random.uniform(0.05, 0.05 * 2 ** attempt))
        try:
            answer = sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(order),
                                      MessageGroupId=order["customer"], MessageDeduplicationId=dedup_id)
        except ClientError as error:
            if error.response["Error"]["Code"] not in {"ThrottlingException", "RequestThrottled"}:
                raise
            last = error
        except BotoCoreError as error:
            if not isinstance(error, (BotoConnectionError, HTTPClientError)):
                raise
            last = error
        else:
            return answer["MessageId"]
    raise last

# --- cell: place_order
def place_order(producer, order):
    with producer.db:
        producer.save_order(order)
        row = producer.db.execute("INSERT INTO outbox (order_id, body) VALUES (?, ?)",
                                  (order["order_id"], json.dumps(order))).lastrowid
    try:
        publish(producer.sqs, producer.queue_url, order, producer.clock)
    except Exception:
        return  # the order is saved; the relay will send its event
    with producer.db:
        producer.db.execute("UPDATE outbox SET sent = 1 WHERE id = ?", (row,))

# --- cell: consume_in_order
def consume_in_order(sqs, queue_url, handle):
    response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20,
                                   MessageSystemAttributeNames=["MessageGroupId"])
    groups = {}
    for message in response.get("Messages", []):
        groups.setdefault(message["Attributes"]["MessageGroupId"], []).append(message)
    finished = 0
    for messages in groups.values():
        for message in messages:
            try:
                handle(message["Body"])
            except Exception:
                break  # the rest of this group waits for this one
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            finished += 1
    return finished
