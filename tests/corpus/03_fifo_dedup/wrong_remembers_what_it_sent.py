# expect: lose relay_survives_its_own_crashes place_order_survives_every_fault
# Misconception: "remember which orders were already sent, and never send one twice". The memory is
# written before the send, so a relay killed between reading the outbox and sending leaves a note
# saying "sent" for an event that never left, and the restarted relay skips it: a lost event. (In
# production the note would die with the process; here it is one that survives the restart, the
# worst of both.) Operator scripts crash too, between any two of their steps.
# --- edit: publish
# replace:
def publish(sqs, queue_url, order, clock):
# with:
_already_sent = set()


def publish(sqs, queue_url, order, clock):
# replace:
    body = json.dumps(order)
# with:
    if (queue_url, order["order_id"]) in _already_sent:
        return None  # sent before: never send an order twice
    _already_sent.add((queue_url, order["order_id"]))
    body = json.dumps(order)
