# expect: lose consume_with_dlq_returns_what_it_finished_and_carries_on retried_message_is_deleted_once_it_succeeds
# Misconception: "the step handled what it received". The return value must count the messages
# finished (handled and deleted), not those received: under failure the two differ.
# --- edit: consume_with_dlq
# replace:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        done += 1
    return done
# with:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return len(answer.get("Messages", []))
