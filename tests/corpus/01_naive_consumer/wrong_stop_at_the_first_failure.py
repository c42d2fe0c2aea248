# expect: lose carries_on_after_a_failed_message
# Misconception: "when a handler fails, stop the step and let SQS retry". Nothing is lost (the
# messages after the failure come back when their leases run out), but one failing message holds
# up every message received after it in the same batch for a whole visibility timeout, and after
# it again each time it fails.
# --- edit: consume_once
# replace:
            continue  # leave it: SQS delivers it again after the visibility timeout
# with:
            break  # leave it, and the rest: SQS delivers them again after the visibility timeout
