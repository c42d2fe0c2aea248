# expect: lose redrive_moves_the_dlq_back_to_its_source_queue fix_and_redrive_charges_every_order_once replaying_twice_is_harmless redrive_can_be_killed_and_run_again
# Misconception: "the move task runs in SQS, so sleep in real time". The lab's task moves in
# simulated time: a real sleep waits for nothing. The bench stops the script at its first real sleep
# (so grading never waits) and says to wait with clock.sleep.
# --- edit: redrive
# replace:
        clock.sleep(1)
# with:
        import time
        time.sleep(1)
