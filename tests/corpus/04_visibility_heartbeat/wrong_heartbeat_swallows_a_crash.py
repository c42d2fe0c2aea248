# expect: lose heartbeat_stops_quietly_when_its_lease_is_gone
# Misconception: "a heartbeat must never raise, so catch everything". A bare except in the beat also
# catches the process's own death (a crash or Ctrl-C during the renewal, a BaseException): the timer
# stops quietly, the work runs on without a lease, and a rival gets the message while it is in hand.
# --- edit: start_heartbeat
# replace:
        except ClientError:
# with:
        except BaseException:
