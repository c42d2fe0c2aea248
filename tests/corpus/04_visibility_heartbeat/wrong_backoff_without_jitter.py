# expect: lose backoff_is_jittered
# Misconception: "exponential backoff is enough". Every message that failed at the same moment
# waits exactly as long as the others and comes back with them, in a burst.
# --- cell: backoff
def backoff(attempt, rng, *, base=5, cap=900):
    return int(min(cap, MAX_VISIBILITY_TIMEOUT, base * 2 ** (max(attempt, 1) - 1)))
