# expect: lose lambda_reports_failed_messages_by_message_id lambda_returns_only_the_failed_message_to_the_queue
# Misconception: applying the FIFO rule ("stop processing after the first failure and report it and
# every unprocessed message") to a standard queue. The good messages after a poison one come back with
# it every time, and their receive counts climb with its own until SQS moves them to the DLQ too.
# --- cell: handle_event
def handle_event(event, db, handler):
    """Charge the records in order; at the first failure, stop and report it with all the rest."""
    records = event["Records"]
    for i, record in enumerate(records):
        try:
            charge_once(db, handler, record["body"])
        except Exception:
            return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records[i:]]}
    return {"batchItemFailures": []}
