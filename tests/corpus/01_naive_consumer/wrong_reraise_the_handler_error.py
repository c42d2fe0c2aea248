# expect: lose carries_on_after_a_failed_message
# Misconception: "a failure should be loud: re-raise it". The message is not deleted, so nothing is
# lost, but the exception ends the step (and, outside the bench, the consumer process): the other
# messages of the batch wait for their leases to run out, and the consumer dies again on every retry.
# --- edit: consume_once
# replace:
        except Exception:
            continue  # leave it: SQS delivers it again after the visibility timeout
# with:
        except Exception:
            raise  # not deleted, so SQS will deliver it again
