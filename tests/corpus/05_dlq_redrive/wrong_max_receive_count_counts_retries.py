# expect: lose redrive_policy_gives_every_retry
# Misconception: "maxReceiveCount is the number of retries after the first try". It is the number
# of deliveries in all: with maxReceiveCount = retries, every message loses its last retry.
# --- cell: redrive_policy
def redrive_policy(dlq_arn, retries):
    return json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": retries})
