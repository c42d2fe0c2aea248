# expect: lose publish_gives_up_after_five_attempts publish_raises_other_errors_at_once
# Misconception: "a producer should never give up: retry every error until the send goes through".
# A send that fails for good (a bad request, a queue that was deleted) then hangs the request
# forever, and a real outage piles up requests instead of reporting the error. (Seen from a learner
# trying the lesson: it passed every test until the retry bound was graded.)
# (Wrong only in publish; the other cells are the reference solution.)
# --- cell: publish
from botocore.exceptions import BotoCoreError
def publish(sqs, queue_url, order, clock):
    while True:
        try:
            return sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(order),
                                    MessageGroupId=order["customer"],
                                    MessageDeduplicationId=order["order_id"])["MessageId"]
        except (BotoCoreError, ClientError):
            clock.sleep(1)
