# expect: lose other_groups_keep_flowing
# Misconception: "when a message fails, stop the step: everything after it waits". Order holds and
# nothing is lost (it is Powertools' default for Lambda), but Bob's order waits a whole visibility
# timeout because Alice's payment failed: the contract asks the other groups to carry on in the
# same step.
# --- edit: consume_in_order
# replace:
            held_back.add(group)
            continue
# with:
            break
