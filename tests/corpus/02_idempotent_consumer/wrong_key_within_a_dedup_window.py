# expect: lose late_restart_charged_once claim_completed_skips_duplicates
# Misconception (fault-space class: time stands still between a crash and the restart): "deduplicate
# within a 5-minute window, like FIFO's deduplication". The record's key is the order id plus the
# current 5-minute window. Every test whose redelivery comes within the window passes; a process that
# restarts 301 s after its crash sees the same order under a new record and charges it again. The
# claim makes the same mistake with its item's id.
# --- cell: consume_once
import time

def consume_once(sqs, queue_url, db):
    db.execute("CREATE TABLE IF NOT EXISTS processed (key TEXT PRIMARY KEY, payload TEXT NOT NULL)")
    response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20)
    for message in response.get("Messages", []):
        key = idempotency_key(message["Body"])
        if key is None:
            continue
        window_key = f"{key}@{int(time.time() // 300)}"   # deduplicate within 5 minutes, as FIFO does
        payload = json.dumps(json.loads(message["Body"]), sort_keys=True)
        try:
            with db:
                new = db.execute("INSERT OR IGNORE INTO processed (key, payload) VALUES (?, ?)",
                                 (window_key, payload)).rowcount
                if new:
                    db.apply_effect(key, "charge")
                elif db.execute("SELECT payload FROM processed WHERE key = ?", (window_key,)).fetchone()[0] != payload:
                    continue
        except Exception:
            continue
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
# --- edit: consume_with_claim
# replace:
        item_key = {"id": {"S": key}}
# with:
        item_key = {"id": {"S": f"{key}@{int(now() // 300)}"}}   # deduplicate within 5 minutes, as FIFO does
