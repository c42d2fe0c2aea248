# expect: lose failure_releases_the_message_at_once
# Misconception: "on failure just stop and leave the message; SQS retries it anyway". It does, but
# only when its lease runs out: the failed message is held for the whole timeout.
# --- cell: handle_message
def handle_message(sqs, queue_url, message, clock, work, *, timeout=30):
    heartbeat = start_heartbeat(sqs, queue_url, message["ReceiptHandle"], clock, timeout=timeout)
    try:
        work(message["Body"])
    except Exception:
        return False
    finally:
        heartbeat.cancel()
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return True
