# expect: lose place_order_loses_no_event place_order_survives_every_fault
# Misconception: "send once the order is committed: then the event is never about a missing
# order". True, but a crash between the commit and the send leaves a saved order whose event
# nobody will ever send: a lost event.
# (Wrong only in place_order; the other cells are the reference solution.)
# --- cell: place_order
def place_order(producer, order):
    with producer.db:
        producer.save_order(order)
    publish(producer.sqs, producer.queue_url, order, producer.clock)
