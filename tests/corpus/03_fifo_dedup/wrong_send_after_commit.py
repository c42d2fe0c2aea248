# expect: lose place_order_loses_no_event place_order_survives_every_fault
# Misconception: "send once the order is committed: then the event is never about a missing
# order". True, but a crash between the commit and the send leaves a saved order whose event
# nobody will ever send: a lost event.
# (Wrong only in place_order; the other cells are the reference solution.)
# --- cell: publish
def publish(sqs, queue_url, order, clock):
    body = json.dumps(order)
    for attempt in range(1, 6):
        try:
            return sqs.send_message(QueueUrl=queue_url, MessageBody=body,
                                    MessageGroupId=str(order["customer"]),
                                    MessageDeduplicationId=str(order["order_id"]))["MessageId"]
        except BotoCoreError:
            if attempt == 5:
                raise
        except ClientError as error:
            if error.response["Error"]["Code"] != "ThrottlingException" or attempt == 5:
                raise
        clock.sleep(0.1 * 2 ** attempt)

# --- cell: place_order
def place_order(producer, order):
    with producer.db:
        producer.save_order(order)
    publish(producer.sqs, producer.queue_url, order, producer.clock)

# --- cell: consume_in_order
def consume_in_order(sqs, queue_url, handle):
    response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                   AttributeNames=["MessageGroupId"])
    held_back, done = set(), 0
    for message in response.get("Messages", []):
        group = message["Attributes"]["MessageGroupId"]
        if group in held_back:
            continue
        try:
            handle(message["Body"])
        except Exception:
            held_back.add(group)
            continue
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        done += 1
    return done
