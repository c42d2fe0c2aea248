# expect: lose consume_with_dlq_returns_what_it_finished_and_carries_on poison_reaches_the_dlq_quickly retryable_failures_are_retried_not_dead_lettered
# Misconception: "a failure means something is wrong: stop the step". Class: one fault per run. With
# one failure per batch the rest come back after their timeout and succeed; with two failures in one
# batch, the messages after the first failure are received again and again without being handled,
# and their receives run out.
# --- edit: consume_with_dlq
# replace:
            continue  # retryable: SQS delivers it again when its visibility timeout ends
# with:
            break  # something is wrong: leave the rest for later
