# expect: lose redrive_moves_the_dlq_back_to_its_source_queue
# Misconception: "the task is over when it stops RUNNING". A move task can also end FAILED (the source
# queue was deleted, a message's original source is gone) or CANCELLED; a script that returns the count
# anyway tells the operator the DLQ was drained while the messages are still in it.
# --- edit: redrive
# replace:
    if task["Status"] != "COMPLETED":
        raise RuntimeError(f"the redrive ended {task['Status']}: {task.get('FailureReason', '')}")
# with nothing
