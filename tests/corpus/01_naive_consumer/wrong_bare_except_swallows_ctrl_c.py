# expect: lose carries_on_after_a_failed_message
# Misconception: "a bare except (or except BaseException) makes the consumer sturdier". It leaves the
# failed message for its retry, as it should, but it also catches Ctrl-C, SystemExit and the process's
# own death, so nobody can stop the consumer while a handler runs.
# --- cell: consume_once
def consume_once(sqs, queue_url, handle):
    done = 0
    for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20).get("Messages", []):
        try:
            handle(m["Body"])
        except:  # noqa: E722
            continue
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
        done += 1
    return done
