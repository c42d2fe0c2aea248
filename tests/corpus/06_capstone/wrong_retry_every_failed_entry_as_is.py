# expect: lose sender_fault_entry_is_not_sent_again_as_is
# Misconception: "a failed entry is worth one more try". An entry with SenderFault true is wrong as it
# was sent (here an invalid receipt handle): sent again, it fails again, every time. Only entries that
# failed on SQS's side are worth sending again.
# --- edit: consume_batch
# replace:
                if failure["SenderFault"]:  # wrong as sent: it comes back, and charge_once says "done before"
                    failed.append(pending[failure["Id"]]["MessageId"])
                else:
                    again[failure["Id"]] = pending[failure["Id"]]
# with:
                again[failure["Id"]] = pending[failure["Id"]]
