# expect: lose receive_batch_returns_the_messages
# Misconception: "WaitTimeSeconds is all a long poll needs". Without MaxNumberOfMessages, SQS returns
# at most one message per request (the default is 1), so a busy queue costs ten times the requests.
# --- cell: receive_batch
def receive_batch(sqs, queue_url):
    return sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=20).get("Messages", [])
