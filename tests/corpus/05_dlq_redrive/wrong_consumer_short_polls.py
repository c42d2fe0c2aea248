# expect: lose consume_with_dlq_returns_what_it_finished_and_carries_on
# Misconception: "a step should return at once, so receive without waiting". The contract asks for one
# long-polling receive: a short poll answers at once, often with fewer messages than wait or none (it
# asks a sample of SQS's servers), so an order that arrives a few seconds into the step waits a whole
# extra step, and an idle consumer polls in a tight, billed loop.
# --- edit: consume_with_dlq
# replace:
    answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20)
# with:
    answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
