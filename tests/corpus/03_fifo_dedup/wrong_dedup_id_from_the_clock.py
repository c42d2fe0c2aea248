# expect: lose publish_resend_after_restart_is_deduplicated relay_survives_its_own_crashes place_order_survives_every_fault
# Misconception: "an ID made of the order id and the time of the call is stable enough: it is the
# same on every retry inside the call". So it is, and an instant restart would even reuse it. But a
# real restart comes seconds or minutes later (the relay's after 30 s): the time in the ID has moved,
# SQS sees a new message and ships the order twice. (Time does not stand still between a crash and
# the restart.)
# --- edit: publish
# replace:
    body = json.dumps(order)
# with:
    body = json.dumps(order)
    dedup_id = f"{order['order_id']}@{int(clock.now())}"
# replace:
                                    MessageDeduplicationId=str(order["order_id"]))["MessageId"]
# with:
                                    MessageDeduplicationId=dedup_id)["MessageId"]
