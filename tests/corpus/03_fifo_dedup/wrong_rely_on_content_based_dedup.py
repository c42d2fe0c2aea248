# expect: lose publish_sends_one_message_in_the_customers_group publish_retry_after_timeout_sends_once
# Misconception: "FIFO queues deduplicate by themselves". Only a queue with
# ContentBasedDeduplication does; on any other FIFO queue a send without MessageDeduplicationId
# fails with an error, so not a single order goes out.
# --- cell: publish
def publish(sqs, queue_url, order, clock):
    body = json.dumps(order, sort_keys=True)
    for attempt in range(1, 6):
        try:
            return sqs.send_message(QueueUrl=queue_url, MessageBody=body,
                                    MessageGroupId=order["customer"])["MessageId"]
        except BotoCoreError:
            if attempt == 5:
                raise
            clock.sleep(attempt)

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
