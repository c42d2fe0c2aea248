# expect: lose heartbeat_keeps_every_message_of_the_batch_hidden
# Misconception: "a beat must never raise, so catch everything". The beat catches BaseException: a process
# that dies (or is interrupted) during a renewal is taken for a failed call, and the step carries on as if
# it still held its lease. Only a ClientError means "this renewal failed"; a crash must go through.
# --- edit: consume_batch
# replace:
            except ClientError:
                pass  # half the lease is left: the next beat tries again
# with:
            except BaseException:
                pass  # half the lease is left: the next beat tries again
