# expect: lose lambda_reports_failed_messages_by_message_id lambda_returns_only_the_failed_message_to_the_queue
# Misconception: "itemIdentifier is the receipt handle" (it is what identifies a receive, after all).
# Lambda wants the record's messageId; a value that is no messageId of the batch makes the response a
# complete failure, so the whole batch comes back.
# --- edit: handle_event
# replace:
            failures.append({"itemIdentifier": record["messageId"]})  # the messageId, not the receipt handle
# with:
            failures.append({"itemIdentifier": record["receiptHandle"]})
