# expect: lose survives_every_fault_point_exactly_once
# Misconception: "duplicates come within SQS's five-minute deduplication window, so an idempotency
# record older than that is dead weight". Class: time moves between crash and restart. The window is
# FIFO's deduplication of sends, not a bound on redelivery: a consumer that crashes after the charge
# and restarts six minutes later receives the message again, finds no record and charges it twice.
# (Records may expire, as Powertools' do, but only long after any message can still come back.)
# --- edit: consume_batch
# replace:
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20).get("Messages", [])
# with:
    db.execute("CREATE TABLE IF NOT EXISTS processed (key TEXT PRIMARY KEY)")
    db.execute("CREATE TABLE IF NOT EXISTS charged_at (key TEXT PRIMARY KEY, at REAL)")
    with db:  # housekeeping: records older than the deduplication window go
        db.execute("DELETE FROM processed WHERE key IN (SELECT key FROM charged_at WHERE at < ?)", (clock.now() - 300,))
        db.execute("DELETE FROM charged_at WHERE at < ?", (clock.now() - 300,))
    charge = handler

    def handler(db, body):  # the charge, and when it was made, in the same transaction
        charge(db, body)
        db.execute("INSERT OR REPLACE INTO charged_at VALUES (?, ?)", (capstone.order_id(body), clock.now()))

    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20).get("Messages", [])
