# expect: lose heartbeat_stops_after_success heartbeat_stops_after_failure
# Misconception: "the heartbeat is harmless once the work is done". It keeps calling
# ChangeMessageVisibility on a deleted message, and after a failure it hides the released message
# again, so nobody can retry it.
# --- cell: handle_message
def handle_message(sqs, queue_url, message, clock, work, *, timeout=30):
    start_heartbeat(sqs, queue_url, message["ReceiptHandle"], clock, timeout=timeout)
    try:
        work(message["Body"])
    except Exception:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"],
                                      VisibilityTimeout=0)
        return False
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return True
