# expect: full
# Alternative: a long poll (WaitTimeSeconds) and try/except/else, written as a helper per message.
# --- cell: consume_once
def _handle_one(sqs, queue_url, handle, message):
    try:
        handle(message["Body"])
    except Exception:
        return False
    else:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return True


def consume_once(sqs, queue_url, handle):
    response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20)
    return sum(_handle_one(sqs, queue_url, handle, m) for m in response.get("Messages", []))
