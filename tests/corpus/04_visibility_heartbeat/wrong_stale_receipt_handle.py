# expect: lose retry_uses_the_newest_receipt_handle
# Misconception: "a receipt handle identifies the message", so the consumer remembers each
# message's handle by MessageId and heartbeats with it. After a failure the message is received
# again with a new handle; the heartbeat renews with the first one, SQS refuses it, the lease runs
# out mid-work and a rival takes the job.
# --- edit: handle_message
# replace:
def handle_message(sqs, queue_url, message, clock, work, *, timeout=30):
# with:
_handles = {}  # MessageId -> receipt handle, remembered at the first receive


def handle_message(sqs, queue_url, message, clock, work, *, timeout=30):
# replace:
    heartbeat = start_heartbeat(sqs, queue_url, message["ReceiptHandle"], clock, timeout=timeout)
# with:
    handle = _handles.setdefault(message["MessageId"], message["ReceiptHandle"])
    heartbeat = start_heartbeat(sqs, queue_url, handle, clock, timeout=timeout)
