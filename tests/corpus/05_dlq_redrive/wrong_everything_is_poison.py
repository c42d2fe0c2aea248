# expect: lose classifies_poison_and_retryable_failures
# Misconception: "if it failed once it will fail again". Transient failures (an outage, a timeout,
# a throttled call) are classified as poison, so good orders go to the DLQ during an outage.
# --- cell: is_poison
def is_poison(error):
    return True
