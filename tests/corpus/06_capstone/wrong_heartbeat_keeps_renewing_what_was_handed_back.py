# expect: lose heartbeat_stops_before_a_message_is_let_go
# Misconception: "stop the timer before the hand-back, start it again after: the order is kept". Class:
# the order of actions at one instant. The timer is stopped and started again around the hand-back, but
# the message handed back stays on the list the new timer renews: its next beat hides the poison message
# again (on its way to the DLQ) or undoes a retryable one's back-off.
# --- edit: consume_batch
# replace:
                del held[m["MessageId"]]
# with nothing
