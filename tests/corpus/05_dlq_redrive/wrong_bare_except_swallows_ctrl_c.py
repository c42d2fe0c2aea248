# expect: lose consume_with_dlq_returns_what_it_finished_and_carries_on
# Misconception: "a consumer must survive anything its handler raises". except BaseException also
# catches Ctrl-C (and a process's own death): the operator cannot stop the consumer, and the
# interrupted message is treated as a failed one.
# --- edit: consume_with_dlq
# replace:
        except Exception as error:
# with:
        except BaseException as error:
