# expect: lose place_order_sends_no_ghost_event place_order_survives_every_fault
# Misconception: "send inside the transaction: if the send fails, the order rolls back". But if
# the send succeeds and the process dies before the commit, the order is rolled back while its
# event is already on the queue: a ghost event about an order that does not exist.
# (Wrong only in place_order; the other cells are the reference solution.)
# --- cell: place_order
def place_order(producer, order):
    producer.save_order(order)
    publish(producer.sqs, producer.queue_url, order, producer.clock)
    producer.db.commit()
