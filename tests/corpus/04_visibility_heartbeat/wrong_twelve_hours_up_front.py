# expect: lose crashed_consumer_frees_its_message_within_a_timeout
# Misconception: "no need for a heartbeat: hide the message for the 12-hour maximum once". No rival
# ever sees it -- but when the consumer dies mid-job, nobody may retry its message for 12 hours.

# --- cell: start_heartbeat
class _Nothing:
    """Nothing to stop: the visibility was set once."""

    def cancel(self):
        pass


def start_heartbeat(sqs, queue_url, receipt_handle, clock, *, timeout=30):
    sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt_handle,
                                  VisibilityTimeout=MAX_VISIBILITY_TIMEOUT)
    return _Nothing()

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
            for rest in messages[i:]:  # not started: hand them back now, not after their timeout
                sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=rest["ReceiptHandle"],
                                              VisibilityTimeout=0)
            break
        done += handle_message(sqs, queue_url, message, clock, work, rng, timeout=timeout)
    return done
