# expect: lose failed_delete_entry_is_deleted_again_at_once
# Misconception: "the batch call did not raise, so every entry was deleted". DeleteMessageBatch
# answers HTTP 200 with the entries it could not apply in Failed; this consumer never reads it, so a
# message whose entry failed is delivered again (and counted as done).
# --- edit: consume_batch
# replace:
            again = {}
            for failure in answer.get("Failed", []):
                if failure["SenderFault"]:  # wrong as sent: it comes back, and charge_once says "done before"
                    failed.append(pending[failure["Id"]]["MessageId"])
                else:
                    again[failure["Id"]] = pending[failure["Id"]]
            pending = again
# with:
            pending = {}  # the call succeeded: everything was deleted
