# expect: lose claim_released_on_handler_error
# Pitfall: releasing the claim of a failed charge without rolling the charge back. A charge that
# failed half-way leaves its statements in the open transaction, and the next message's commit
# commits them: the order is charged, then charged again when it is redelivered.
# --- edit: consume_with_claim
# replace:
            db.rollback()
# with nothing
