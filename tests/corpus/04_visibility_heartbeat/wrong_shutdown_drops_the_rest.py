# expect: lose shutdown_finishes_the_job_in_hand_and_releases_the_rest
# Misconception: "on SIGTERM just stop; SQS will redeliver whatever we held". It will -- after each
# message's visibility timeout. Until then the messages received but not started are stranded.

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
    """Run work(body) under a heartbeat; delete on success (True), release with backoff on failure (False)."""
    heartbeat = start_heartbeat(sqs, queue_url, message["ReceiptHandle"], clock, timeout=timeout)
    try:
        work(message["Body"])
    except Exception:
        heartbeat.cancel()  # first: a late beat would hide the released message again
        attempt = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"],
                                      VisibilityTimeout=backoff(attempt, rng))
        return False
    finally:
        heartbeat.cancel()  # on success, and when the process dies
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
            break  # SQS will give the rest to someone else (after their timeout)
        done += handle_message(sqs, queue_url, message, clock, work, rng, timeout=timeout)
    return done
