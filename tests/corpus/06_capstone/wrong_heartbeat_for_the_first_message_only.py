# expect: lose heartbeat_keeps_every_message_of_the_batch_hidden
# Misconception: lesson 4's one-message heartbeat carried over to a batch: only the first message's
# lease is renewed, so the messages waiting their turn expire and a rival receives them mid-batch.
# --- edit: consume_batch
# replace:
        entries = [{"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": timeout}
                   for i, handle in enumerate(held.values())]
# with:
        entries = [{"Id": "0", "ReceiptHandle": handle, "VisibilityTimeout": timeout}
                   for handle in list(held.values())[:1]]
