# expect: lose reports_the_failed_messages_by_message_id
# Misconception: "an entry that failed on SQS's side is deleted once it is sent again". Class: one fault
# per run (two failures of one entry). The retry can fail too; the step then drops the entry from its
# books, and its report says everything was finished while the message is still in the queue and will
# come back. The return value under failure must name every message received and not deleted.
# --- edit: consume_batch
# replace:
        failed += [m["MessageId"] for m in pending.values()]
# with nothing
