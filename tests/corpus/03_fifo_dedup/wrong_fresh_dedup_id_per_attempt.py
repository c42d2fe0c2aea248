# expect: lose publish_retry_after_timeout_sends_once publish_resend_after_restart_is_deduplicated
# Misconception: "a timeout means the send failed, so the retry is a new message with a new ID".
# SQS had already accepted the first attempt: a fresh MessageDeduplicationId makes the retry a
# second message, and the order is shipped twice.
# (Wrong only in publish; the other cells are the reference solution.)
# --- cell: publish
from botocore.exceptions import BotoCoreError
import uuid


def publish(sqs, queue_url, order, clock):
    for attempt in range(1, 6):
        try:
            return sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(order),
                                    MessageGroupId=order["customer"],
                                    MessageDeduplicationId=str(uuid.uuid4()))["MessageId"]
        except (BotoCoreError, ClientError):
            if attempt == 5:
                raise
            clock.sleep(attempt)
