# expect: lose heartbeat_stops_before_a_message_is_let_go
# Misconception: "the finally stops the heartbeat; the order inside the step does not matter". Class:
# the order of actions at one instant. The messages are deleted, and handed back, while the timer
# that renews them still runs; on a real thread a beat can land between the two lines and renew a
# message that was just deleted, or hide again one that was just handed back.
# --- edit: consume_batch
# replace:
                heartbeat.cancel()  # no beat may touch the message from here on...
                del held[m["MessageId"]]
# with:
                del held[m["MessageId"]]
# replace:
                heartbeat = clock.every(timeout / 2, beat)  # the rest stay hidden
# with:
# replace:
        heartbeat.cancel()  # everything is finished or let go: stop beating before the delete
# with:
