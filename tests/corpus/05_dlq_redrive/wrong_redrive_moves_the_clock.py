# expect: lose redrive_moves_the_dlq_back_to_its_source_queue fix_and_redrive_charges_every_order_once replaying_twice_is_harmless redrive_can_be_killed_and_run_again
# Misconception: "the lab's clock can be moved, so move it while the task runs". Production code
# cannot move time, only wait: the operator's clock has no advance(), and says so.
# --- edit: redrive
# replace:
        clock.sleep(1)
# with:
        clock.advance(1)
