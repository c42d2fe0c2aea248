# expect: lose redrive_policy_gives_every_retry
# Misconception: "no retries means maxReceiveCount 1". SQS counts receives, not failures, and can
# count one the consumer never got: with 1, a single lost response dead-letters a healthy message.
# AWS advises against it; the contract asks for two deliveries at least.
# --- edit: redrive_policy
# replace:
    return json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max(2, retries + 1)})
# with:
    return json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": retries + 1})
