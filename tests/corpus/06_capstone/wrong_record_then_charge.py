# expect: lose charge_once_keeps_nothing_of_a_failed_attempt survives_every_fault_point_exactly_once
# Misconception: "mark the order as processed first, so nothing can charge it twice". The record is
# committed in a transaction of its own before the charge: when the charge fails or the process dies
# in between, the order is marked done and never charged (lost).
# --- cell: charge_once
def charge_once(db, handler, body):
    """Record the order first (its own transaction), then charge it."""
    key = capstone.order_id(body)
    db.execute("CREATE TABLE IF NOT EXISTS processed (key TEXT PRIMARY KEY)")
    with db:
        if not db.execute("INSERT OR IGNORE INTO processed (key) VALUES (?)", (key,)).rowcount:
            return False
    with db:
        handler(db, body)
    return True
