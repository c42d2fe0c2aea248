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
