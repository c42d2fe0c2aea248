# expect: lose handles_and_deletes_every_message returns_the_number_handled survives_crash_before_delete keeps_failed_messages_for_retry never_loses_a_message_under_any_crash
# Misconception: "receiving a message takes it off the queue". It only hides it for the
# visibility timeout: without a delete, every order comes back and is charged again and again.
# --- cell: consume_once
def consume_once(sqs, queue_url, handle):
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    for m in messages:
        handle(m["Body"])
    return len(messages)
