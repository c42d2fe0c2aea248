# expect: full
# Alternative: the deduplication ID names the event ("order-placed:<id>"), retries walk a list of
# delays, the outbox row is written first, the group is read from the order itself, the consumer
# short-polls (a short poll may return fewer messages: the tests never count one receive), and the
# successes are deleted in one DeleteMessageBatch.
# --- cell: publish
from botocore.exceptions import ConnectionError as BotoConnectionError, HTTPClientError


def publish(sqs, queue_url, order, clock):
    request = dict(QueueUrl=queue_url, MessageBody=json.dumps(order), MessageGroupId=order["customer"],
                   MessageDeduplicationId=f"order-placed:{order['order_id']}")
    for delay in (0.2, 0.4, 0.8, 1.6, None):
        try:
            return sqs.send_message(**request)["MessageId"]
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("ThrottlingException", "RequestThrottled") or delay is None:
                raise
        except (BotoConnectionError, HTTPClientError):
            if delay is None:
                raise
        clock.sleep(delay)

# --- cell: place_order
def place_order(producer, order):
    with producer.db as db:
        db.execute("INSERT INTO outbox (order_id, body) VALUES (?, ?)", (order["order_id"], json.dumps(order)))
        producer.save_order(order)

# --- cell: consume_in_order
def consume_in_order(sqs, queue_url, handle):
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    blocked, succeeded = set(), []
    for index, message in enumerate(messages):
        customer = json.loads(message["Body"])["customer"]
        if customer in blocked:
            continue
        try:
            handle(message["Body"])
        except Exception:
            blocked.add(customer)
        else:
            succeeded.append({"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]})
    if not succeeded:
        return 0
    return len(sqs.delete_message_batch(QueueUrl=queue_url, Entries=succeeded).get("Successful", []))
