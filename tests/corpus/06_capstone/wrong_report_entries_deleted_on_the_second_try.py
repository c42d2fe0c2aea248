# expect: lose failed_delete_entry_is_deleted_again_at_once
# Misconception: "an entry in Failed is a failure, so report it". Class: the return value under
# failure. The entry failed on SQS's side and was deleted when sent again: the message is finished.
# Reporting it tells Lambda, or whoever reads the report, to expect a message that will never come
# back (and counts a success as a failure).
# --- edit: consume_batch
# replace:
                else:
                    again[failure["Id"]] = pending[failure["Id"]]
# with:
                else:
                    again[failure["Id"]] = pending[failure["Id"]]
                    failed.append(pending[failure["Id"]]["MessageId"])  # it failed: report it
