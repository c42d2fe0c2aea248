# expect: lose sender_fault_entry_is_not_sent_again_as_is
# Misconception: "batchItemFailures lists the charges that failed". A message whose delete failed for
# good was not finished either: it will come back, and the report must say so (the return value
# under failure).
# --- edit: consume_batch
# replace:
                if failure["SenderFault"]:  # wrong as sent: it comes back, and charge_once says "done before"
                    failed.append(pending[failure["Id"]]["MessageId"])
                else:
# with:
                if failure["SenderFault"]:
                    pass  # charged: nothing to report
                else:
# replace:
        failed += [m["MessageId"] for m in pending.values()]
# with:
