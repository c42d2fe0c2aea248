# expect: full
# Alternative: the heartbeat renews at 40% of the timeout and counts its own 12 hours down; the work
# runs inside an ExitStack whose callback stops the heartbeat (however the block is left), and the
# delete or release comes after the stack has closed; backoff draws a float and truncates it; the
# step releases the rest at SIGTERM through a small helper.

# --- cell: start_heartbeat
def start_heartbeat(sqs, queue_url, receipt_handle, clock, *, timeout=30):
    interval = timeout * 0.4
    budget = {"left": float(MAX_VISIBILITY_TIMEOUT)}

    def renew():
        budget["left"] -= interval
        ask = int(min(timeout, budget["left"]))
        if ask <= 0:
            beats.cancel()
            return
        try:
            sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=ask)
        except ClientError:
            beats.cancel()

    beats = clock.every(interval, renew, name="heartbeat")
    return beats

# --- cell: handle_message
import contextlib


def handle_message(sqs, queue_url, message, clock, work, *, timeout=30):
    handle = message["ReceiptHandle"]
    succeeded = False
    try:
        with contextlib.ExitStack() as stack:
            beats = start_heartbeat(sqs, queue_url, handle, clock, timeout=timeout)
            stack.callback(beats.cancel)
            work(message["Body"])
            succeeded = True
    except Exception:
        pass
    if succeeded:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=handle)
    else:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return succeeded

# --- cell: backoff
def backoff(attempt, rng, *, base=5, cap=900):
    top = min(float(cap), float(MAX_VISIBILITY_TIMEOUT), base * 2.0 ** max(attempt - 1, 0))
    return min(int(top), int(rng.random() * (top + 1)))

# --- cell: consume_step
def _hand_back(sqs, queue_url, messages, seconds):
    for message in messages:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"],
                                      VisibilityTimeout=seconds)


def consume_step(sqs, queue_url, clock, work, stop, rng, *, batch=10):
    if stop.is_set():
        return 0
    got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=batch, WaitTimeSeconds=20,
                              MessageSystemAttributeNames=["All"]).get("Messages", [])
    ok = 0
    for position, message in enumerate(got):
        if stop.is_set():
            _hand_back(sqs, queue_url, got[position:], 0)
            return ok
        try:
            work(message["Body"])
        except Exception:
            _hand_back(sqs, queue_url, [message], backoff(int(message["Attributes"]["ApproximateReceiveCount"]), rng))
            continue
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        ok += 1
    return ok
