# expect: lose consume_with_dlq_returns_what_it_finished_and_carries_on
# Misconception: "ReceiveMessage returns what is waiting". Without MaxNumberOfMessages it returns at most
# one message, so ten waiting orders take ten steps (ten calls, ten long polls) instead of the one
# receive of up to 10 the contract asks for.
# --- edit: consume_with_dlq
# replace:
    answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20)
# with:
    answer = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=20)
