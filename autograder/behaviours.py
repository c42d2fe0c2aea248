"""What each graded cell checks, in words a learner reads at a glance: grade_id -> behaviour name.

Feedback pages and the self-check title a graded cell with its behaviour, not its grade_id. The
table is data in one place (a class report that needs the same names reads it from here). A
grade_id missing from it gets a title made from its words (:func:`name`).
"""

from __future__ import annotations

BEHAVIOURS: dict[str, str] = {
    # 01_naive_consumer
    "handles_and_deletes_every_message": "Every order charged, every message deleted",
    "returns_the_number_handled": "Returns how many messages it finished",
    "survives_crash_before_delete": "A crash before the delete loses nothing",
    "keeps_failed_messages_for_retry": "A failed message is kept for a retry",
    "never_loses_a_message_under_any_crash": "No order lost, whatever crashes where",
    # 02_idempotent_consumer
    "key_is_the_order_id": "The idempotency key is the order ID",
    "malformed_body_has_no_key": "A malformed body has no key (and raises nothing)",
    "charges_each_order_once": "Each order charged once",
    "producer_retry_charged_once": "A producer's retry is charged once",
    "duplicate_delivery_charged_once": "A duplicate delivery is charged once",
    "crash_after_charge_charged_once": "A crash after the charge does not charge again",
    "crash_before_commit_not_lost": "A crash before the commit loses nothing",
    "failed_charge_is_retried": "A failed charge is retried",
    "two_consumers_charge_once": "Two consumers with one message charge it once",
    "malformed_message_left_for_dlq": "A message without a key is left for the DLQ",
    "every_fault_point_exactly_once": "Exactly once under every fault",
    "claim_charges_each_order_once": "Claims: each order charged once",
    "claim_completed_skips_duplicates": "Claims: a completed order is not charged again",
    "claim_blocks_a_second_consumer": "Claims: a live claim blocks a second consumer",
    "claim_expires_after_a_crash": "Claims: a claim expires after a crash",
    "claim_released_on_handler_error": "Claims: a failed charge releases the claim",
    "claim_at_least_once_under_every_fault": "Claims: at least once under every fault",
    # 03_fifo_dedup
    "publish_sends_one_message_in_the_customers_group": "Publish sends one message in the customer's group",
    "publish_retry_after_timeout_sends_once": "A retry after a timeout delivers once",
    "publish_retries_a_throttled_send": "A throttled send is retried",
    "publish_resend_after_restart_is_deduplicated": "A resend after a restart is deduplicated",
    "publish_gives_up_after_five_attempts": "Publish gives up after five attempts",
    "publish_raises_other_errors_at_once": "Publish raises other errors at once",
    "place_order_saves_and_announces_every_order": "Every order saved and announced",
    "place_order_loses_no_event": "No order's event is lost",
    "place_order_sends_no_ghost_event": "No event for an order that was not saved",
    "place_order_survives_every_fault": "The outbox survives every fault",
    "consumer_keeps_every_group_in_order": "Each customer's orders charged in order",
    "failed_message_holds_back_its_group": "A failed message holds back its group",
    "other_groups_keep_flowing": "Other groups keep flowing",
    "order_survives_every_crash": "Order kept, nothing lost, under every crash",
    # 04_visibility_heartbeat
    "heartbeat_hides_a_long_job_from_a_rival": "The heartbeat hides a long job from a rival",
    "heartbeat_renews_with_time_to_spare": "The heartbeat renews with time to spare",
    "heartbeat_respects_the_12_hour_maximum": "The heartbeat respects the 12-hour maximum",
    "backoff_grows_exponentially_up_to_a_cap": "Backoff grows exponentially, up to a cap",
    "backoff_is_jittered": "Backoff is jittered",
    "ten_minute_job_charged_exactly_once_despite_a_rival": "A 10-minute job charged once despite a rival",
    "heartbeat_stops_after_success": "The heartbeat stops after success",
    "heartbeat_stops_after_failure": "The heartbeat stops after a failure",
    "heartbeat_stops_when_the_work_is_interrupted": "The heartbeat stops when the work is interrupted",
    "failure_releases_the_message_with_backoff": "A failure releases the message with backoff",
    "retry_uses_the_newest_receipt_handle": "A retry uses the newest receipt handle",
    "crashed_consumer_frees_its_message_within_a_timeout": "A crashed consumer frees its message in time",
    "shutdown_stops_receiving": "Shutdown stops receiving",
    "shutdown_finishes_the_job_in_hand_and_releases_the_rest": "Shutdown finishes the job in hand, releases the rest",
    # 05_dlq_redrive
    "redrive_policy_gives_every_retry": "The redrive policy gives every retry",
    "classifies_poison_and_retryable_failures": "Poison and retryable failures told apart",
    "charge_order_charges_each_order_once": "charge_order charges each order once",
    "poison_reaches_the_dlq_quickly": "Poison reaches the DLQ quickly",
    "retryable_failures_are_retried_not_dead_lettered": "Retryable failures are retried, not dead-lettered",
    "never_charges_twice_or_loses_an_order_under_crashes": "No order charged twice or lost under crashes",
    "redrive_moves_the_dlq_back_to_its_source_queue": "The redrive moves the DLQ back to its queue",
    "fix_and_redrive_charges_every_order_once": "After the fix and the redrive, each order charged once",
    "replaying_twice_is_harmless": "Replaying twice is harmless",
    "dlq_alarm_goes_off_when_a_message_is_dead_lettered": "The DLQ alarm goes off for a dead letter",
    "dlq_alarm_stays_quiet_while_the_dlq_is_empty": "The DLQ alarm stays quiet while the DLQ is empty",
    # 06_capstone
    "charge_once_charges_an_order_once": "charge_once charges an order once",
    "charge_once_keeps_nothing_of_a_failed_attempt": "charge_once keeps nothing of a failed attempt",
    "lambda_reports_failed_messages_by_message_id": "Lambda: failures reported by message ID",
    "lambda_returns_only_the_failed_message_to_the_queue": "Lambda: only the failed message comes back",
    "lambda_redelivery_charges_nothing_twice": "Lambda: a redelivery charges nothing twice",
    "consume_batch_takes_ten_at_a_time": "Batches of ten",
    "heartbeat_keeps_every_message_of_the_batch_hidden": "The heartbeat keeps every message of the batch hidden",
    "heartbeat_stops_when_the_step_returns": "The heartbeat stops when the step returns",
    "failed_delete_entry_is_deleted_again_at_once": "A failed delete entry is deleted again",
    "poison_reaches_the_dlq_fast_and_uncharged": "Poison reaches the DLQ fast, uncharged",
    "retryable_failure_waits_and_is_charged_once": "A retryable failure waits and is charged once",
    "reports_the_failed_messages_by_message_id": "Failed messages reported by message ID",
    "fix_redrive_and_replay_charge_each_order_once": "Fix, redrive and replay: each order charged once",
    "survives_every_fault_point_exactly_once": "Exactly once under every fault point",
    "a_busy_day_charges_each_good_order_once": "A busy day: each good order charged once",
    # the grader's fixture assignment (autograder/testdata)
    "handles_every_message": "Handles every message",
    "survives_any_crash": "Survives any crash",
    "totals_orders": "Totals an order",
}

#: Words a grade_id spells in lower case that a title writes as the course does.
_ACRONYMS = {"dlq": "DLQ", "dlqs": "DLQs", "fifo": "FIFO", "sqs": "SQS", "id": "ID", "ids": "IDs",
             "aws": "AWS", "http": "HTTP", "sqlite": "SQLite", "dynamodb": "DynamoDB", "sigterm": "SIGTERM"}


def title(grade_id: str) -> str:
    """A title made from a grade_id's words, the course's acronyms kept (``fifo_retry`` -> ``FIFO retry``)."""
    words = grade_id.replace("_", " ").split()
    words = [_ACRONYMS.get(w.lower(), w) for w in words]
    if words and words[0] == words[0].lower():
        words[0] = words[0].capitalize()
    return " ".join(words)


def name(grade_id: str) -> str:
    """The behaviour a graded cell checks, for titles: from the table, else from its grade_id."""
    return BEHAVIOURS.get(grade_id) or title(grade_id)
