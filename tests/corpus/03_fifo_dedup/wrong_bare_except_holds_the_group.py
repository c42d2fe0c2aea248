# expect: lose failed_message_holds_back_its_group
# Misconception: "a bare except makes the consumer sturdier". It holds the failed message's group back,
# as it should, but it also catches Ctrl-C, SystemExit and the process's own death, so nobody can stop
# the consumer while a handler runs.
# (Wrong only in consume_in_order; the other cells are the reference solution.)
# --- cell: consume_in_order
def consume_in_order(sqs, queue_url, handle):
    response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20,
                                   MessageSystemAttributeNames=["MessageGroupId"])
    held_back, done = set(), 0
    for message in response.get("Messages", []):
        group = message["Attributes"]["MessageGroupId"]
        if group in held_back:
            continue
        try:
            handle(message["Body"])
        except:  # noqa: E722
            held_back.add(group)
            continue
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        done += 1
    return done
