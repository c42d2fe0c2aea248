# expect: lose charge_once_charges_an_order_once lambda_redelivery_charges_nothing_twice survives_every_fault_point_exactly_once fix_redrive_and_replay_charge_each_order_once
# Misconception: "with a heartbeat and careful deletes, nothing is delivered twice". The charge is
# made without a record of it, so a crash after the charge, a duplicate delivery or a replay of the
# dead-letter queue charges the order again.
# --- cell: charge_once
def charge_once(db, handler, body):
    """Charge the order in `body` (no record is kept)."""
    capstone.order_id(body)
    with db:
        handler(db, body)
    return True
