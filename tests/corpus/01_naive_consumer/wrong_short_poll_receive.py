# expect: lose long_polls_an_almost_empty_queue
# Misconception: "ReceiveMessage waits for messages". Without WaitTimeSeconds it is a short poll: it
# answers at once, from a sample of SQS's servers, usually empty on an almost-empty queue, and a
# consumer's loop pays for a request a second.
# --- edit: receive_batch
# replace:
    response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20)
# with:
    response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
