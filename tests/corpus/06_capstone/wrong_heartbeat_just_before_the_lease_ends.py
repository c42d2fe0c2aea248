# expect: lose heartbeat_keeps_every_message_of_the_batch_hidden
# Misconception: "renew just before the lease ends: fewer calls". A beat timeout - 1 seconds apart
# leaves one second of the lease at each renewal; a real call takes time and a timer can be late, so a
# slow beat lets the lease lapse and another consumer receives the message. The specification asks for
# a renewal while at least a third of the lease is left.
# --- edit: consume_batch
# replace:
    heartbeat = clock.every(timeout / 2, beat)
    failed, done = [], []
# with:
    heartbeat = clock.every(timeout - 1, beat)
    failed, done = [], []
# replace:
                heartbeat = clock.every(timeout / 2, beat)  # the rest stay hidden
# with:
                heartbeat = clock.every(timeout - 1, beat)  # the rest stay hidden
