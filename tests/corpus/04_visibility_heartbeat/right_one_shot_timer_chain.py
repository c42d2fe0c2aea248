# expect: full
# Alternative: the heartbeat re-arms a one-shot timer (clock.call_later) after each beat, every third
# of the timeout; a small object stands for the chain so cancel() stops whichever timer is next.
# backoff draws with rng.uniform and rounds down.

# --- cell: start_heartbeat
class _Chain:
    def __init__(self):
        self.timer = None
        self.stopped = False

    def cancel(self):
        self.stopped = True
        if self.timer is not None:
            self.timer.cancel()


def start_heartbeat(sqs, queue_url, receipt_handle, clock, *, timeout=30):
    chain = _Chain()
    last_moment = clock.now() + MAX_VISIBILITY_TIMEOUT

    def beat():
        if chain.stopped:
            return
        left = int(last_moment - clock.now())
        if left <= 0:
            return
        try:
            sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt_handle,
                                          VisibilityTimeout=min(timeout, left))
        except ClientError:
            return
        chain.timer = clock.call_later(timeout / 3, beat, name="heartbeat")

    chain.timer = clock.call_later(timeout / 3, beat, name="heartbeat")
    return chain

# --- cell: backoff
def backoff(attempt, rng, *, base=5, cap=900):
    ceiling = min(cap, base * 2 ** (attempt - 1 if attempt > 1 else 0), MAX_VISIBILITY_TIMEOUT)
    return min(int(ceiling), int(rng.uniform(0, ceiling + 1)))

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
