# expect: lose redrive_moves_the_dlq_back_to_its_source_queue fix_and_redrive_charges_every_order_once replaying_twice_is_harmless redrive_can_be_killed_and_run_again
# Misconception: "StartMessageMoveTask moves the messages". It starts an asynchronous task and
# returns at once: a script that returns then leaves the messages in the DLQ, and the operator
# believes they are back.
# --- cell: redrive
def redrive(sqs, queue_url, clock):
    dlq_arn = dead_letter_arn(sqs, queue_url)
    latest = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
    if not latest or latest[0]["Status"] != "RUNNING":
        sqs.start_message_move_task(SourceArn=dlq_arn)
    return sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]["ApproximateNumberOfMessagesToMove"]
