# expect: lose publish_resend_after_restart_is_deduplicated
# Misconception: "one random ID per message, reused on every retry, is enough". It survives a
# timeout inside one call, but a restarted process calls publish again for the same order, gets
# a new ID, and SQS delivers the order a second time. The ID must come from the order itself.
# (Wrong only in publish; the other cells are the reference solution.)
# --- cell: publish
from botocore.exceptions import BotoCoreError
import uuid


def publish(sqs, queue_url, order, clock):
    dedup_id = str(uuid.uuid4())
    for attempt in range(1, 6):
        try:
            return sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(order),
                                    MessageGroupId=order["customer"],
                                    MessageDeduplicationId=dedup_id)["MessageId"]
        except (BotoCoreError, ClientError):
            if attempt == 5:
                raise
            clock.sleep(attempt)
