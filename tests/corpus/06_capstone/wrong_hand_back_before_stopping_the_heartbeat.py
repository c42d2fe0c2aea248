# expect: lose heartbeat_stops_before_a_message_is_let_go
# Misconception: "hand it back, then stop renewing it: it happens at the same instant anyway". Class:
# the order of actions at one instant. Between the hand-back and the cancel, a beat on another thread
# can renew the message and undo the hand-back: a poison message is hidden again for a whole lease.
# --- edit: consume_batch
# replace:
                heartbeat.cancel()  # no beat may touch the message from here on...
                del held[m["MessageId"]]
                failed.append(m["MessageId"])
                if isinstance(error, POISON):  # ...handed back at once, on its way to the DLQ
                    sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"],
                                                  VisibilityTimeout=0)
# with:
                failed.append(m["MessageId"])
                if isinstance(error, POISON):
                    sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"],
                                                  VisibilityTimeout=0)
                heartbeat.cancel()
                del held[m["MessageId"]]
