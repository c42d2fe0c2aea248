# expect: full
# Alternative: the heartbeat as an object and a context manager (the `with` block ends it, before the
# delete or the release); "equal jitter" (half the ceiling fixed, half random); the messages not started
# at SIGTERM released in one ChangeMessageVisibilityBatch call.

# --- cell: start_heartbeat
class Heartbeat:
    """Keeps one received message hidden while work runs; cancel() ends it."""

    def __init__(self, sqs, queue_url, receipt_handle, clock, timeout):
        self.sqs, self.queue_url, self.handle = sqs, queue_url, receipt_handle
        self.clock, self.timeout = clock, timeout
        self.ends_at = clock.now() + MAX_VISIBILITY_TIMEOUT
        self.timer = clock.every(timeout / 2, self.beat, name="heartbeat")

    def beat(self):
        left = int(self.ends_at - self.clock.now())
        if left <= 0:
            return self.cancel()
        try:
            self.sqs.change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=self.handle,
                                               VisibilityTimeout=min(self.timeout, left))
        except ClientError:
            self.cancel()

    def cancel(self):
        self.timer.cancel()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cancel()
        return False


def start_heartbeat(sqs, queue_url, receipt_handle, clock, *, timeout=30):
    return Heartbeat(sqs, queue_url, receipt_handle, clock, timeout)

# --- cell: handle_message
def handle_message(sqs, queue_url, message, clock, work, *, timeout=30):
    handle = message["ReceiptHandle"]
    try:
        with start_heartbeat(sqs, queue_url, handle, clock, timeout=timeout):
            work(message["Body"])
    except Exception:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
        return False
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=handle)
    return True

# --- cell: backoff
def backoff(attempt, rng, *, base=5, cap=900):
    ceiling = int(min(cap, MAX_VISIBILITY_TIMEOUT, base * 2 ** (max(attempt, 1) - 1)))
    half = ceiling // 2
    return half + rng.randint(0, ceiling - half)

# --- cell: consume_step
def consume_step(sqs, queue_url, clock, work, stop, rng, *, batch=10):
    if stop.is_set():
        return 0
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=batch, WaitTimeSeconds=20,
                                   MessageSystemAttributeNames=["ApproximateReceiveCount"]).get("Messages", [])
    done = 0
    while messages and not stop.is_set():
        message = messages.pop(0)
        try:
            work(message["Body"])
        except Exception:
            count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"],
                                          VisibilityTimeout=backoff(count, rng))
        else:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            done += 1
    if messages:
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for i, m in enumerate(messages)])
    return done
