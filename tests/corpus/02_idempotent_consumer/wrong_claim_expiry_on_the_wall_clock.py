# expect: lose claim_expires_after_a_crash
# Pitfall: two clocks. The claim's expiry is written from time.time() while the claim is tested
# against the now() the consumer is given. Wherever the two clocks differ (another origin, a skewed
# host, a test clock), a dead consumer's claim outlives it for as long as the difference.
# --- edit: consume_with_claim
# replace:
    response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20)
# with:
    import time
    response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20)
# replace:
                      "in_progress_expiration": {"N": str(now() + claim_seconds)}},
# with:
                      "in_progress_expiration": {"N": str(time.time() + claim_seconds)}},
