# expect: lose redrive_moves_the_dlq_back_to_its_source_queue fix_and_redrive_charges_every_order_once replaying_twice_is_harmless redrive_can_be_killed_and_run_again
# Misconception: "SourceArn is the source queue". In a redrive the messages leave the dead-letter
# queue, so SourceArn is the DLQ; SQS refuses a queue that is not a DLQ.
# --- edit: redrive
# replace:
    dlq_arn = dead_letter_arn(sqs, queue_url)
# with:
    dlq_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
