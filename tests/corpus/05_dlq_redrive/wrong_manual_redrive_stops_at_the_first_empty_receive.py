# expect: lose redrive_can_be_killed_and_run_again
# Misconception: "an empty receive means the DLQ is empty". Class: time stands still between a crash
# and the restart. A run killed after it received from the DLQ leaves those messages in flight; run
# again at once, the script receives nothing and returns, and the orders stay in the DLQ until
# someone notices. Run again after their visibility timeout, the same script passes.
# --- cell: redrive
def redrive(sqs, queue_url, clock):
    dlq_url = sqs.get_queue_url(QueueName=dead_letter_arn(sqs, queue_url).rsplit(":", 1)[1])["QueueUrl"]
    moved = 0
    while True:
        batch = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=20).get("Messages", [])
        if not batch:
            return moved
        for m in batch:
            sqs.send_message(QueueUrl=queue_url, MessageBody=m["Body"])
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=m["ReceiptHandle"])
            moved += 1
