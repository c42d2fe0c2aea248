# expect: lose redrive_moves_the_dlq_back_to_its_source_queue redrive_can_be_killed_and_run_again
# Misconception: "the script starts the move, so running it again starts it again". Class: operator
# scripts never crash. Killed after StartMessageMoveTask and run again at once, the script asks for a
# second task while the first still runs in SQS, which allows one per queue: UnsupportedOperation,
# and the operator is left with an error. Run 5 s later, the same script passes: time must not
# stand still between the kill and the rerun for the mistake to show.
# --- edit: redrive
# replace:
    latest = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=1)["Results"]
    if not latest or latest[0]["Status"] != "RUNNING":  # a killed run's task may still be moving
        sqs.start_message_move_task(SourceArn=dlq_arn)
# with:
    sqs.start_message_move_task(SourceArn=dlq_arn)
