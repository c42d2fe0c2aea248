# expect: lose publish_sends_one_message_in_the_customers_group publish_retry_after_timeout_sends_once
# Misconception: "content-based deduplication will catch the retry". Each attempt stamps the body
# with the time it was sent, so each retry hashes differently and is delivered again; and on a
# queue without content-based deduplication a send with no deduplication ID fails outright.
# (Wrong only in publish; the other cells are the reference solution.)
# --- cell: publish
from botocore.exceptions import BotoCoreError
import datetime


def publish(sqs, queue_url, order, clock):
    for attempt in range(1, 6):
        body = json.dumps({**order, "sent_at": datetime.datetime.now().isoformat()})
        try:
            return sqs.send_message(QueueUrl=queue_url, MessageBody=body,
                                    MessageGroupId=order["customer"])["MessageId"]
        except (BotoCoreError, ClientError):
            if attempt == 5:
                raise
            clock.sleep(attempt)
