# expect: lose publish_gives_up_after_five_attempts publish_raises_other_errors_at_once
# Misconception: "a producer should never give up: retry every error until the send goes through".
# A send that fails for good (a bad request, a queue that was deleted) then hangs the request
# forever, and a real outage piles up requests instead of reporting the error. (Seen from a learner
# trying the lesson: it passed every test until the retry bound was graded.)
# (Wrong only in publish; the other cells are the reference solution.)
# --- cell: publish
def publish(sqs, queue_url, order, clock):
    while True:
        try:
            return sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(order),
                                    MessageGroupId=order["customer"],
                                    MessageDeduplicationId=order["order_id"])["MessageId"]
        except (BotoCoreError, ClientError):
            clock.sleep(1)

# --- cell: place_order
def place_order(producer, order):
    with producer.db:
        producer.save_order(order)
        producer.db.execute("INSERT INTO outbox (order_id, body) VALUES (?, ?)",
                            (order["order_id"], json.dumps(order)))

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
