# expect: lose poison_reaches_the_dlq_fast_and_uncharged
# Misconception: "give a broken message a second before it comes back". Handed back with a visibility
# timeout of 1 s, a broken order stays hidden after the step returns: it is not handed back at once, and
# each of its next receives waits again. VisibilityTimeout=0 makes it visible again at once.
# --- edit: consume_batch
# replace:
                                                  VisibilityTimeout=0)
# with:
                                                  VisibilityTimeout=1)
