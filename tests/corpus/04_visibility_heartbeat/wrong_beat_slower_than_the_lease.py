# expect: lose heartbeat_hides_a_long_job_from_a_rival heartbeat_renews_with_time_to_spare ten_minute_job_charged_exactly_once_despite_a_rival
# Misconception: "extend it a little after each timeout" -- a beat every 40 s on a 30-second lease.
# The lease runs out before the first beat: a rival receives the job mid-work and charges it too.
# --- edit: start_heartbeat
# replace:
    timer = clock.every(timeout / 2, beat, name="heartbeat")
# with:
    timer = clock.every(timeout + 10, beat, name="heartbeat")
