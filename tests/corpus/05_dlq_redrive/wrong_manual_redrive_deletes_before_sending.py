# expect: lose redrive_can_be_killed_and_run_again
# Misconception: "receive, delete, send: the order of the last two does not matter". Class: operator
# scripts never crash. Killed between the delete from the DLQ and the send to the source queue, the
# message is gone from both: the order is lost. Send first, then delete: a kill in between leaves a
# duplicate, which the idempotent charge absorbs.
# --- cell: redrive
def redrive(sqs, queue_url, clock):
    dlq_url = sqs.get_queue_url(QueueName=dead_letter_arn(sqs, queue_url).rsplit(":", 1)[1])["QueueUrl"]
    moved = 0
    for _ in range(60):
        batch = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=20).get("Messages", [])
        for m in batch:
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=m["ReceiptHandle"])
            sqs.send_message(QueueUrl=queue_url, MessageBody=m["Body"])
            moved += 1
        if batch:
            continue
        left = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        if int(left["ApproximateNumberOfMessages"]) + int(left["ApproximateNumberOfMessagesNotVisible"]) == 0:
            return moved
        clock.sleep(5)
    raise TimeoutError("the dead-letter queue did not empty")
