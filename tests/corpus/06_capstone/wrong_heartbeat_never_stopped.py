# expect: lose heartbeat_stops_when_the_step_returns heartbeat_stops_before_a_message_is_let_go
# Misconception: "the heartbeat is a timer; it ends by itself". It is never cancelled, so it keeps
# renewing after the step returned: every message it still lists stays hidden for as long as the
# process lives (and the calls never stop).
# --- edit: consume_batch
# replace:
                heartbeat.cancel()  # no beat may touch the message from here on...
# with:
                pass
# replace:
        heartbeat.cancel()  # everything is finished or let go: stop beating before the delete
# with:
        pass
# replace:
    finally:
        heartbeat.cancel()
# with:
    finally:
        pass  # the heartbeat keeps running
