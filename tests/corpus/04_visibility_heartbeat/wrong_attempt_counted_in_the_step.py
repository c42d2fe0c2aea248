# expect: lose failure_releases_the_message_with_backoff
# Misconception: "the attempt number is how many failures this step has seen". It is right for the
# first failure of a batch, so every test with one failure passes; the second failure in the same
# batch is a first attempt for its own message, yet gets twice the wait, and a message's later
# receives are all attempt 1. The attempt is the message's own ApproximateReceiveCount. With two
# failures in a batch the longer wait can still fall inside the right window (a random draw); ten
# failures in one batch show it every time.
# --- edit: consume_step
# replace:
    done = 0
# with:
    done = failures = 0
# replace:
            attempt = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
# with:
            failures += 1
            attempt = failures
