# expect: lose redrive_moves_the_dlq_back_to_its_source_queue fix_and_redrive_charges_every_order_once replaying_twice_is_harmless
# Misconception: "SourceArn is the source queue". In a redrive the messages leave the dead-letter
# queue, so SourceArn is the DLQ; SQS refuses a queue that is not a DLQ.
# --- cell: redrive
def redrive(sqs, queue_url, clock):
    source_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.start_message_move_task(SourceArn=source_arn, DestinationArn=dead_letter_arn(sqs, queue_url))
    while True:
        task = sqs.list_message_move_tasks(SourceArn=source_arn, MaxResults=1)["Results"][0]
        if task["Status"] != "RUNNING":
            return task["ApproximateNumberOfMessagesMoved"]
        clock.advance(1)
