# expect: lose heartbeat_stops_when_the_step_returns
# Misconception: "the heartbeat is cancelled before the delete, so a finally adds nothing". When the step
# raises (Ctrl-C in the handler), the line before the delete is never reached: without a finally, the
# timer keeps renewing the batch after the step has ended, and nothing can receive those messages.
# --- edit: consume_batch
# replace:
    finally:
        heartbeat.cancel()
# with:
    finally:
        pass
