# expect: full
# Alternative: a consumer step that short-polls (WaitTimeSeconds 0, the default) for one message at
# a time. SQS's short polls sample servers and often come back empty; the bench's runs and the
# step tests keep stepping until the queue drains, so a correct consumer that short-polls keeps
# full marks. Its receive_batch long-polls, as exercise 1 asks, and sets the lease explicitly.
# --- cell: receive_batch
def receive_batch(sqs, queue_url):
    response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20,
                                   VisibilityTimeout=30)
    messages = response.get("Messages")
    return messages if messages else []


# --- cell: consume_once
def consume_once(sqs, queue_url, handle):
    finished = 0
    for message in sqs.receive_message(QueueUrl=queue_url).get("Messages", []):
        try:
            handle(message["Body"])
        except Exception as error:  # the work failed: SQS redelivers it after the visibility timeout
            print(f"will retry {message['MessageId']}: {error}")
        else:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            finished += 1
    return finished
