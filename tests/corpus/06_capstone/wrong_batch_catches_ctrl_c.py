# expect: lose heartbeat_stops_when_the_step_returns
# Misconception: "a failed charge is any exception". Catching BaseException around the charge turns Ctrl-C
# into a failed message: the step hands it back and goes on with the batch, and the operator cannot stop
# the consumer. A KeyboardInterrupt (or a crash) is no failure of the message: let it through.
# --- edit: consume_batch
# replace:
            except Exception as error:
# with:
            except BaseException as error:
