# expect: lose heartbeat_stops_when_the_work_is_interrupted
# Misconception: "stop the heartbeat on success and on failure, and that covers every way out".
# An interruption that is not an Exception (KeyboardInterrupt, SystemExit, a cancelled task) skips
# both branches; the timer thread keeps renewing, so the message stays hidden (and the process
# alive) for up to 12 hours. (Seen from a learner trying the lesson: full marks before this cell.)

# --- cell: start_heartbeat
def start_heartbeat(sqs, queue_url, receipt_handle, clock, *, timeout=30):
    """Every timeout/2 s on `clock`, extend the message's visibility to `timeout` s from now; return the timer."""
    deadline = clock.now() + MAX_VISIBILITY_TIMEOUT  # 12 hours after the receive

    def beat():
        left = int(deadline - clock.now())
        if left <= 0:
            timer.cancel()
            return
        try:
            sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt_handle,
                                          VisibilityTimeout=min(timeout, left))
        except ClientError:
            timer.cancel()  # the lease is lost: deleted, or received again since
            return
        if left <= timeout:
            timer.cancel()  # that was the last extension SQS allows

    timer = clock.every(timeout / 2, beat, name="heartbeat")
    return timer

# --- cell: backoff
def backoff(attempt, rng, *, base=5, cap=900):
    """Seconds to keep a failed message away before its next attempt: exponential, capped, full jitter."""
    ceiling = min(cap, MAX_VISIBILITY_TIMEOUT, base * 2 ** (max(attempt, 1) - 1))
    return rng.randint(0, int(ceiling))

# --- cell: handle_message
def handle_message(sqs, queue_url, message, clock, work, rng, *, timeout=30):
    hb = start_heartbeat(sqs, queue_url, message["ReceiptHandle"], clock, timeout=timeout)
    try:
        work(message["Body"])
    except Exception:
        hb.cancel()
        attempt = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"],
                                      VisibilityTimeout=backoff(attempt, rng))
        return False
    hb.cancel()
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return True

# --- cell: consume_step
def consume_step(sqs, queue_url, clock, work, stop, rng, *, timeout=30, batch=10):
    """One consumer step that honours `stop`: receive, handle one by one, release the rest on shutdown."""
    if stop.is_set():
        return 0  # shutting down: receive nothing more
    received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=batch,
                                   MessageSystemAttributeNames=["ApproximateReceiveCount"])
    messages = received.get("Messages", [])
    done = 0
    for i, message in enumerate(messages):
        if stop.is_set():
            for rest in messages[i:]:  # not started: hand them back now, not after their timeout
                sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=rest["ReceiptHandle"],
                                              VisibilityTimeout=0)
            break
        done += handle_message(sqs, queue_url, message, clock, work, rng, timeout=timeout)
    return done

