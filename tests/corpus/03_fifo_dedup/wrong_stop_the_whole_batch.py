# expect: lose other_groups_keep_flowing
# Misconception: "FIFO means the whole queue is one line". Order holds only within a message group:
# stopping every group because one failed keeps order but stalls customers who have nothing to do
# with the failure. (Safe, but not what the exercise asks: other groups must flow.)
# --- cell: publish
def publish(sqs, queue_url, order, clock):
    body = json.dumps(order)
    for attempt in range(1, 6):
        try:
            return sqs.send_message(QueueUrl=queue_url, MessageBody=body,
                                    MessageGroupId=str(order["customer"]),
                                    MessageDeduplicationId=str(order["order_id"]))["MessageId"]
        except BotoCoreError:
            if attempt == 5:
                raise
        except ClientError as error:
            if error.response["Error"]["Code"] != "ThrottlingException" or attempt == 5:
                raise
        clock.sleep(0.1 * 2 ** attempt)

# --- cell: consume_in_order
def consume_in_order(sqs, queue_url, handle):
    done = 0
    for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        try:
            handle(message["Body"])
        except Exception:
            break
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        done += 1
    return done
