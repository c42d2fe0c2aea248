# expect: lose publish_resend_after_restart_is_deduplicated relay_survives_its_own_crashes
# Misconception: "the order id and today's date make a safe ID: a retry never takes a day". It
# survives every restart of the same day. A relay that comes back the next morning resends with a
# new ID, and past the 5-minute window even the same ID would be delivered again, but only a
# different ID is the producer's fault: the copy is a second order for the warehouse. (Time does not
# stand still: the bench's late restarts include the next day.)
# --- edit: publish
# replace:
    body = json.dumps(order)
# with:
    import datetime

    body = json.dumps(order)
    dedup_id = f"{order['order_id']}:{datetime.date.today().isoformat()}"
# replace:
                                    MessageDeduplicationId=str(order["order_id"]))["MessageId"]
# with:
                                    MessageDeduplicationId=dedup_id)["MessageId"]
