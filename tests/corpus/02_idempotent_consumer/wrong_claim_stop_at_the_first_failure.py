# expect: lose claim_released_on_handler_error
# Misconception (fault-space class: two failures in one batch): "when a charge fails, release its
# claim and stop the batch". With one failure the rest comes back 30 s later and is charged; with two
# failures in one batch, the second failing order is only reached on that redelivery, fails there,
# and is charged a whole visibility timeout later than it had to be.
# --- edit: consume_with_claim
# replace:
            dynamodb.delete_item(TableName=CLAIMS_TABLE, Key=item_key)  # release: retry on the next delivery
            continue
# with:
            dynamodb.delete_item(TableName=CLAIMS_TABLE, Key=item_key)  # release: retry on the next delivery
            break
