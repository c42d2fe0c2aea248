# expect: lose charge_order_charges_each_order_once never_charges_twice_or_loses_an_order_under_crashes replaying_twice_is_harmless
# Misconception: "messages in the DLQ never succeeded, so replaying them is safe". A replay can
# happen twice, and a crash between the charge and the delete delivers a message again: without
# a record of the charged order ids, the customer pays twice.
# --- cell: charge_order
def charge_order(db, body, parse):
    order = parse(body)
    db.apply_effect(order["order_id"], "charge")
    db.commit()
    return True
