# expect: lose heartbeat_stops_before_the_delete_or_release
# Misconception: "stop the heartbeat in a finally at the very end: it runs however the call ends".
# So it does, after the delete or the release. At one simulated instant nothing can come between,
# and every other test passes; in production the heartbeat's thread can beat between the release
# and the cancel, and hide the failed message again for a whole timeout. (The order of actions at
# one instant.)
# --- cell: handle_message
def handle_message(sqs, queue_url, message, clock, work, *, timeout=30):
    heartbeat = start_heartbeat(sqs, queue_url, message["ReceiptHandle"], clock, timeout=timeout)
    try:
        try:
            work(message["Body"])
        except Exception:
            sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"],
                                          VisibilityTimeout=0)
            return False
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return True
    finally:
        heartbeat.cancel()
