# expect: lose redrive_moves_the_dlq_back_to_its_source_queue
# Misconception: "a bounded wait is a fixed wait". The script keeps looking at a task that is already
# COMPLETED until its hundred looks are spent, so it returns more than a minute and a half after the
# move's end: an operator waits for nothing, and a script run from a deployment holds it up. The
# contract asks for a return within 30 seconds of the move's end.
# --- edit: redrive
# replace:
        if task["Status"] != "RUNNING":
            break
        clock.sleep(1)
# with:
        clock.sleep(1)
