# expect: full
# Alternative: the heartbeat re-arms a one-shot timer (clock.call_later) after each beat, every third of
# the timeout; a small object stands for the chain so cancel() stops whichever timer is next. backoff
# draws with rng.uniform and rounds down. The consumer step short-polls (a short poll may return fewer
# messages: the tests run it in a loop, as production does) and deletes its successes in one batch.

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

# --- cell: consume_step
def consume_step(sqs, queue_url, clock, work, stop, rng, *, batch=10):
    if stop.is_set():
        return 0
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=batch,
                                   MessageSystemAttributeNames=["ApproximateReceiveCount"]).get("Messages", [])
    finished, started = [], 0
    for message in messages:
        if stop.is_set():
            break
        started += 1
        try:
            work(message["Body"])
        except Exception:
            attempt = int(message["Attributes"]["ApproximateReceiveCount"])
            sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"],
                                          VisibilityTimeout=backoff(attempt, rng))
        else:
            finished.append({"Id": str(started), "ReceiptHandle": message["ReceiptHandle"]})
    if finished:
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=finished)
    for message in messages[started:]:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    return len(finished)
