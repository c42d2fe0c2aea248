# expect: lose redrive_moves_the_dlq_back_to_its_source_queue fix_and_redrive_charges_every_order_once replaying_twice_is_harmless redrive_can_be_killed_and_run_again
# Misconception: "ListMessageMoveTasks lists every task with its TaskHandle, so find mine by handle".
# A listed task carries its TaskHandle only while it is RUNNING: once it finishes, the lookup raises
# KeyError and the operator's script fails, although the move itself went on. (Seen from a learner
# trying the lesson: the incident tests passed while the script crashed, until the bench counted an
# operator's error as a failed run.)
# --- cell: redrive
def redrive(sqs, queue_url, clock):
    dlq_arn = dead_letter_arn(sqs, queue_url)
    handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
        task = next(t for t in tasks if t["TaskHandle"] == handle)
        if task["Status"] != "RUNNING":
            break
        clock.sleep(1)
    if task["Status"] != "COMPLETED":
        raise RuntimeError(f"the redrive ended {task['Status']}")
    return task["ApproximateNumberOfMessagesMoved"]
