# expect: lose one_failure_does_not_stop_the_batch failure_releases_the_message_with_backoff
# Misconception: "after a failure, release that message and end the step: the next step will pick
# up the rest". The rest of the batch was received too: it stays in flight, hidden from everyone,
# until its lease runs out. One failure per batch never shows it; two do (and four in a row).
# --- edit: consume_step
# replace:
                                          VisibilityTimeout=backoff(attempt, rng))
            continue
# with:
                                          VisibilityTimeout=backoff(attempt, rng))
            break
