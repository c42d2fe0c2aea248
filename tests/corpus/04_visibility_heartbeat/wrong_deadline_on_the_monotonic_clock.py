# expect: lose heartbeat_respects_the_12_hour_maximum
# Misconception: "time.monotonic() is the right clock for a deadline". It is the right clock for
# the process's own timeouts, but the 12 hours are SQS's, counted on the clock the heartbeat is given;
# on the bench (as after a suspended laptop or VM) the monotonic clock stands still while the
# simulated 12 hours pass, so the heartbeat never sees its deadline and asks for more than SQS allows.
# --- edit: start_heartbeat
# replace:
    deadline = clock.now() + MAX_VISIBILITY_TIMEOUT  # 12 hours after the receive
# with:
    import time

    deadline = time.monotonic() + MAX_VISIBILITY_TIMEOUT  # 12 hours after the receive
# replace:
        left = int(deadline - clock.now())
# with:
        left = int(deadline - time.monotonic())
