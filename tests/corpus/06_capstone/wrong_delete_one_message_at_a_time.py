# expect: lose consume_batch_takes_ten_at_a_time
# Misconception: "DeleteMessage in a loop is the same as DeleteMessageBatch". It deletes the same
# messages at ten times the requests (SQS bills each), against the specification's constraint. (The
# tests that fail a batch entry leave such a design alone: it makes no batch call for them to fail.)
# --- edit: consume_batch
# replace:
            answer = sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": entry_id, "ReceiptHandle": m["ReceiptHandle"]} for entry_id, m in pending.items()])
# with:
            for m in pending.values():
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
            answer = {}
