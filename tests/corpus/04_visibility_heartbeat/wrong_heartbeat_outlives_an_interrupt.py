# expect: lose heartbeat_stops_when_the_work_is_interrupted
# Misconception: "stop the heartbeat on success and on failure, and that covers every way out".
# An interruption that is not an Exception (KeyboardInterrupt, SystemExit, a cancelled task) skips
# both branches; the timer thread keeps renewing, so the message stays hidden (and the process
# alive) for up to 12 hours. (Seen from a learner trying the lesson: full marks before this cell.)
# --- cell: handle_message
def handle_message(sqs, queue_url, message, clock, work, *, timeout=30):
    hb = start_heartbeat(sqs, queue_url, message["ReceiptHandle"], clock, timeout=timeout)
    try:
        work(message["Body"])
    except Exception:
        hb.cancel()
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"],
                                      VisibilityTimeout=0)
        return False
    hb.cancel()
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return True
