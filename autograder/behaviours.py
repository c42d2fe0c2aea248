"""What each graded behaviour is called in plain words, and the misconception a failure of it reveals.

One table, one row per grade_id of solutions/ (a test keeps it complete and free of stale rows).
Feedback pages and the self-check title a graded cell with its behaviour's name, never its grade_id
(:func:`name`); the class report (:mod:`autograder.report`) shows the names beside the behaviours a
class most often failed, with the misconception, so an instructor sees what to re-teach, not only
where points went. The misconceptions are those the lessons name and correct, and those the wrong
answers in tests/corpus/ were written to show; a failure can have another cause (a typo, a crash of
the learner's own), so the report says "often", not "always". A grade_id missing from the table (the
grader's fixture assignment, a lesson being written) gets a title made from its words (:func:`title`).
"""

from __future__ import annotations

#: grade_id -> (plain name, the misconception a failure most often reveals)
BEHAVIOURS: dict[str, tuple[str, str]] = {
    # 01_naive_consumer
    "handles_and_deletes_every_message": (
        "Charges and deletes every order",
        "Receiving takes a message off the queue (it only hides it until the visibility timeout "
        "ends), or the delete uses the wrong receipt handle."),
    "returns_the_number_handled": (
        "Returns how many messages it finished",
        "The step's contract is read loosely: it counts receives, or failures, instead of messages "
        "finished and deleted."),
    "survives_crash_before_delete": (
        "A crash before the delete loses nothing",
        "A received message is safe to forget: deleting before (or without) finishing the work "
        "loses the order when the process dies."),
    "keeps_failed_messages_for_retry": (
        "A failed message is kept for a retry",
        "An error must not block the queue, so catch it and delete anyway: the failed order is "
        "deleted without ever being charged."),
    "never_loses_a_message_under_any_crash": (
        "No order lost, whatever crashes where",
        "Delete first, then nothing is charged twice: SQS is at-least-once, and only "
        "receive, process, then delete survives every crash."),
    "receive_batch_returns_the_messages": (
        "receive_batch returns the messages that came",
        "A receive returns the messages themselves, or None when the queue is empty: it returns a "
        "response whose Messages key is absent when nothing came."),
    "long_polls_an_almost_empty_queue": (
        "Long polls an almost empty queue",
        "Polling often is the way to be quick: short polls cost a request each, empty or not, while a 20 "
        "s long poll answers as soon as a message arrives."),
    "carries_on_after_a_failed_message": (
        "Carries on after a failed message",
        "One failing message fails the step: raising out of the loop leaves the rest of the batch "
        "unhandled until their leases run out."),
    "deletes_a_message_after_its_successful_retry": (
        "Deletes a message after its successful retry",
        "A message that failed once is done with: its retry is received with a new receipt handle, and "
        "must be deleted once it succeeds."),
    "concept_lease": (
        "Concept: what a lease (visibility timeout) is and when it ends",
        "A received message is locked until it is deleted, or a renewal adds to the old lease: a lease "
        "ends when its timeout runs out, counted from the latest call."),
    "concept_delete_first": (
        "Concept: what deleting first loses",
        "A deleted message comes back if the work failed: once deleted it is gone, so deleting before the"
        " work loses the order on a crash."),
    "concept_polling": (
        "Concept: what short and long polling cost",
        "An empty answer costs nothing, or a long poll is slower: every request counts, and a long poll "
        "answers as soon as a message arrives."),
    "concept_batch_failure": (
        "Concept: one failure in a batch",
        "A batch succeeds or fails as one: each message has its own receipt handle and its own fate."),
    # 02_idempotent_consumer
    "key_is_the_order_id": (
        "The idempotency key is the order id",
        "SQS's MessageId identifies the event; a producer's retry is a new message with a new "
        "MessageId, and only the business id stays the same."),
    "malformed_body_has_no_key": (
        "A malformed body has no key (and does not raise)",
        "Every message has an order_id: a malformed body crashes the consumer on every redelivery."),
    "charges_each_order_once": (
        "Charges each order once",
        "The idempotent consumer's basic loop is incomplete: an order is skipped, charged twice, or "
        "left on the queue even with no fault."),
    "producer_retry_charged_once": (
        "A producer's retry is charged once",
        "The MessageId is the idempotency key: a retried send gets a new MessageId, so the same "
        "order is charged twice."),
    "duplicate_delivery_charged_once": (
        "A duplicate delivery is charged once",
        "SQS delivers each message once (a standard queue may deliver it twice), so no record of "
        "charged orders is needed."),
    "crash_after_charge_charged_once": (
        "A crash after the charge does not charge again",
        "Charge, then record that it was done, as two steps: a crash between the two commits charges "
        "again on the redelivery; they belong in one transaction."),
    "crash_before_commit_not_lost": (
        "A crash before the commit loses nothing",
        "Once the key is recorded the message is handled: recording before the charge loses the order "
        "when the charge never happens."),
    "failed_charge_is_retried": (
        "A failed charge is retried",
        "A failure still counts as processed: the key is kept (or the message deleted) although "
        "nothing was charged."),
    "two_consumers_charge_once": (
        "Two consumers holding one message charge once",
        "Check, then act is enough: without a uniqueness constraint two consumers both pass the check "
        "before either records the key."),
    "malformed_message_left_for_dlq": (
        "A message without a key goes to the dead-letter queue",
        "A bad message should crash the consumer or be deleted; leaving it for the redrive policy "
        "puts it aside without taking the rest of the batch down."),
    "every_fault_point_exactly_once": (
        "Exactly once under every fault",
        "Effect and record are not in one transaction, or the record has no uniqueness constraint: "
        "one crash point charges twice or loses an order."),
    "claim_charges_each_order_once": (
        "The DynamoDB claim consumer charges each order once",
        "The claim's states (INPROGRESS, COMPLETED) are not followed through to the delete."),
    "claim_completed_skips_duplicates": (
        "A completed claim skips a duplicate",
        "A refused claim is an error, so the duplicate of a finished order is retried instead of "
        "deleted."),
    "claim_blocks_a_second_consumer": (
        "A live claim holds off a second consumer",
        "Write the record after the work: with no INPROGRESS claim, a second consumer that receives "
        "the message mid-work sees nothing and charges too."),
    "claim_expires_after_a_crash": (
        "A claim expires after its holder dies",
        "A claim that never expires: a consumer that dies holding it blocks the order for ever."),
    "claim_released_on_handler_error": (
        "A claim is released when the charge fails",
        "A failed attempt may keep its claim: the next delivery then waits for the claim to expire."),
    "claim_at_least_once_under_every_fault": (
        "The claim consumer loses nothing under any fault",
        "Any refused claim means done: the claim of a consumer that died before charging makes the "
        "next delivery delete the order uncharged."),
    "late_restart_charged_once": (
        "A late restart charges each order once",
        "Deduplication only has to last a few minutes: a consumer restarted after the lease (or past 5 "
        "minutes) still meets the same order again."),
    "same_key_other_payload_left_for_dlq": (
        "The same key with another payload is left for the DLQ",
        "A key seen before means the work is done: the same order id with another payload is a conflict "
        "to set aside, not a duplicate to delete."),
    "concept_hashed_key": (
        "Concept: a hash of the whole body as the key",
        "Hashing the body identifies the order: one field that differs between attempts (a timestamp) "
        "gives another key, and the order is charged twice."),
    "concept_two_transactions": (
        "Concept: the record and the charge in two transactions",
        "Recording the key first is safe: if the charge is lost after the record commits, the record says"
        " done and the order is never charged."),
    "concept_claim_gap": (
        "Concept: the gap an expiring claim leaves",
        "A claim makes the charge exactly once: an in-progress claim must expire, and after it has, "
        "nothing tells the next consumer whether the charge happened."),
    "concept_no_expiry": (
        "Concept: a claim that never expires",
        "A claim can wait for its owner for ever: without an expiry a dead consumer's claim refuses every"
        " delivery until the message reaches the DLQ."),
    # 03_fifo_dedup
    "publish_sends_one_message_in_the_customers_group": (
        "Publishes one message in the customer's group",
        "Content-based deduplication will catch the retry (a timestamp in the body defeats it), or "
        "deduplication is per message group (it is per queue by default)."),
    "publish_retry_after_timeout_sends_once": (
        "A retry after a timeout sends once",
        "A timeout means the send failed: a fresh deduplication id makes the retry a second message."),
    "publish_retries_a_throttled_send": (
        "A throttled send is retried",
        "Throttling is fatal: a send SQS refused for now is given up instead of retried."),
    "publish_resend_after_restart_is_deduplicated": (
        "A resend after a restart is deduplicated",
        "One random id per message is enough: a restarted process makes a new one, so the "
        "deduplication id must come from the order itself."),
    "publish_gives_up_after_five_attempts": (
        "Gives up after five attempts",
        "A producer should never give up: a send that fails for good then hangs for ever."),
    "publish_raises_other_errors_at_once": (
        "Other errors are raised at once",
        "Retry every error: a bad request is retried although retrying cannot fix it."),
    "place_order_saves_and_announces_every_order": (
        "Saves and announces every order",
        "The outbox is written but not relayed, or the order and its event are not both saved."),
    "place_order_loses_no_event": (
        "No event lost after the commit",
        "Send once the order is committed: a crash between the commit and the send loses the event; "
        "the outbox row belongs in the order's transaction."),
    "place_order_sends_no_ghost_event": (
        "No event for an order that was not saved",
        "Send inside the transaction: if the process dies before the commit, the event is already on "
        "the queue for an order that does not exist."),
    "place_order_survives_every_fault": (
        "The queue always matches the database",
        "FIFO means exactly-once: neither the queue nor the database can be trusted to agree without "
        "a transactional outbox."),
    "consumer_keeps_every_group_in_order": (
        "Keeps each customer's orders in order",
        "Order across a FIFO queue's receive is guaranteed whatever the consumer does; processing out "
        "of order breaks it."),
    "failed_message_holds_back_its_group": (
        "A failed message holds back its group",
        "One bad message must not block the queue, so skip it: the same customer's later order is "
        "charged first."),
    "other_groups_keep_flowing": (
        "Other groups keep flowing",
        "A failure stops the whole batch: other customers' orders wait for one customer's failure."),
    "order_survives_every_crash": (
        "Group order survives every crash",
        "Retry later by re-sending a copy: on a FIFO queue the copy is deduplicated away, or jumps the "
        "queue."),
    "relay_survives_its_own_crashes": (
        "The relay survives its own crashes",
        "The outbox relay cannot crash between sending and marking: restarted, it sends the row again, "
        "and only the deduplication ID makes that harmless."),
    "concept_dedup_window": (
        "Concept: the 5-minute deduplication interval",
        "FIFO deduplication lasts for ever, or ends with the delete: an ID is deduplicated for 5 minutes "
        "from its first send, whatever happened to the message."),
    "concept_relay_order": (
        "Concept: mark-then-send in the relay",
        "Marking a row before sending it is safe: a crash in between leaves a row marked sent that was "
        "never sent, and the event is lost."),
    "concept_group_blocking": (
        "Concept: a message in flight holds back its group",
        "A FIFO queue stops for everyone, or delivers a group out of order: only the in-flight message's "
        "group waits, the others flow."),
    "concept_dedup_scope": (
        "Concept: the deduplication scope",
        "A duplicate send is rejected, or deduplicated across the queue: with "
        "DeduplicationScope=messageGroup an ID counts only within its group."),
    "concept_exactly_once": (
        "Concept: what FIFO's exactly-once processing covers",
        "FIFO deduplication makes the consumer exactly once: it drops duplicate sends, and a message not "
        "deleted in time is delivered again."),
    # 04_visibility_heartbeat
    "heartbeat_hides_a_long_job_from_a_rival": (
        "The heartbeat hides a long job from a rival",
        "Extend the lease after it runs out: a beat slower than the visibility timeout lets a rival "
        "take the job mid-work."),
    "heartbeat_renews_with_time_to_spare": (
        "Renews with time to spare",
        "Renewing just before the lease ends is enough: a real call takes time and a beat can be late."),
    "heartbeat_respects_the_12_hour_maximum": (
        "Respects the 12-hour maximum",
        "A heartbeat can hide a message for ever: SQS caps the visibility at 12 hours after the receive."),
    "backoff_grows_exponentially_up_to_a_cap": (
        "Backoff grows exponentially up to a cap",
        "A fixed wait between retries is enough; or the wait grows without a cap."),
    "backoff_is_jittered": (
        "Backoff is jittered",
        "Exponential backoff is enough: messages that failed together come back together, in a burst."),
    "ten_minute_job_charged_exactly_once_despite_a_rival": (
        "A 10-minute job is charged once despite a rival",
        "A long visibility timeout or an occasional extension protects a job: without a steady "
        "heartbeat a rival charges it too."),
    "heartbeat_stops_after_success": (
        "The heartbeat stops after success",
        "The heartbeat is harmless once the work is done: it keeps calling on a deleted message."),
    "heartbeat_stops_after_failure": (
        "The heartbeat stops after a failure",
        "A heartbeat left running after a failure hides the released message again, so nobody can "
        "retry it."),
    "heartbeat_stops_when_the_work_is_interrupted": (
        "The heartbeat stops when the work is interrupted",
        "Success and failure cover every way out: an interruption (Ctrl-C, SystemExit) skips both, "
        "and the timer renews for up to 12 hours."),
    "failure_releases_the_message_with_backoff": (
        "A failure releases the message with backoff",
        "On failure leave the message, SQS retries it anyway: only when its lease runs out, whatever "
        "the backoff says."),
    "retry_uses_the_newest_receipt_handle": (
        "A retry uses the newest receipt handle",
        "A receipt handle identifies the message: each receive gives a new one, and the old one no "
        "longer renews the lease."),
    "crashed_consumer_frees_its_message_within_a_timeout": (
        "A crashed consumer frees its message within a timeout",
        "No heartbeat needed, hide the message for 12 hours once: a consumer that dies then blocks its "
        "retry for 12 hours."),
    "shutdown_stops_receiving": (
        "Shutdown stops receiving",
        "The stop signal is checked too late: a consumer asked to stop still receives new work."),
    "shutdown_finishes_the_job_in_hand_and_releases_the_rest": (
        "Shutdown finishes the job in hand and releases the rest",
        "On SIGTERM just stop, SQS will redeliver: only after each message's timeout, so received "
        "messages are stranded until then."),
    "heartbeat_stops_quietly_when_its_lease_is_gone": (
        "The heartbeat stops quietly when its lease is gone",
        "A failed renewal is the consumer's error: the message was deleted or its handle expired, so the "
        "heartbeat should stop, not raise from its timer."),
    "heartbeat_stops_before_the_delete_or_release": (
        "The heartbeat stops before the delete or the release",
        "Stopping the heartbeat after the delete or release is as good: a beat in between hides the "
        "released message again or renews a deleted one."),
    "failure_releases_the_message_at_once": (
        "A failure releases the message at once",
        "A failed message only has to wait for its lease to run out: setting its visibility timeout makes"
        " it visible again when the retry should happen."),
    "one_failure_does_not_stop_the_batch": (
        "One failure does not stop the batch",
        "The first failing job ends the step: the others are left undone and held until their leases run "
        "out."),
    "concept_stop_first": (
        "Concept: stop the heartbeat first",
        "The order of stop and release does not matter: a beat between them sets the timeout back to a "
        "full lease."),
    "concept_jitter": (
        "Concept: why backoff needs jitter",
        "Exponential backoff alone spreads retries: without jitter every failed message computes the same"
        " delay and they come back together."),
    "concept_shutdown": (
        "Concept: a graceful shutdown",
        "A stop signal means exit now, or keep working: stop receiving, finish the job in hand, release "
        "the rest."),
    "concept_receive_budget": (
        "Concept: releasing at once spends the receive budget",
        "Releasing a failed message at once is free: each receive counts toward maxReceiveCount, so it "
        "reaches the DLQ in seconds."),
    # 05_dlq_redrive
    "redrive_policy_gives_every_retry": (
        "The redrive policy gives every retry",
        "maxReceiveCount counts retries, or 1 is fine for no retries: it counts receives in all, and AWS "
        "advises at least 2, since a lost response counts too."),
    "classifies_poison_and_retryable_failures": (
        "Tells poison from retryable failures",
        "If it failed once it will fail again: transient failures (an outage, a throttled call) are "
        "taken for poison."),
    "consume_with_dlq_returns_what_it_finished_and_carries_on": (
        "consume_with_dlq returns what it finished and carries on",
        "One failure ends the step, or a failed message counts as done: the others of the batch wait, "
        "and the count lies."),
    "retried_message_is_deleted_once_it_succeeds": (
        "A retried message is deleted once it succeeds",
        "A message that failed once is settled: its successful retry is not deleted, so it comes back."),
    "poison_reaches_the_dlq_quickly": (
        "Poison reaches the DLQ quickly",
        "A message that can never succeed is garbage, delete it: it never reaches the DLQ, and there "
        "is nothing to redrive after the fix. Or it is retried slowly for the whole timeout."),
    "retryable_failures_are_retried_not_dead_lettered": (
        "Retryable failures are retried, not dead-lettered",
        "Every failure is poison: during an outage good orders burn their receives and land in "
        "the DLQ."),
    "never_charges_twice_or_loses_an_order_under_crashes": (
        "No double charge or lost order under crashes",
        "A DLQ makes the consumer safe: the consumer itself must still delete only finished work."),
    "redrive_moves_the_dlq_back_to_its_source_queue": (
        "The redrive moves the DLQ back to its source",
        "SourceArn is the source queue (it is the DLQ), StartMessageMoveTask's return means done (the "
        "task is asynchronous), or a finished task still has its TaskHandle."),
    "fix_and_redrive_charges_every_order_once": (
        "Fix and redrive charges every order once",
        "The redrive fixes it: only a fixed, idempotent consumer makes the replay harmless."),
    "replaying_twice_is_harmless": (
        "Replaying twice is harmless",
        "A replay happens once: run again, the script must find the DLQ empty and move nothing twice."),
    "redrive_can_be_killed_and_run_again": (
        "The redrive can be killed and run again",
        "An operator's script runs to its end: killed between its steps and run again, it starts a second "
        "task, deletes before it sends, or waits for nothing."),
    "dlq_alarm_goes_off_when_a_message_is_dead_lettered": (
        "The DLQ alarm goes off",
        "Alarm on NumberOfMessagesSent: messages SQS moves to the DLQ are not counted as sent, so "
        "the alarm never fires. Watch the DLQ's depth."),
    "dlq_alarm_stays_quiet_while_the_dlq_is_empty": (
        "The DLQ alarm stays quiet while the DLQ is empty",
        "Watch the queue the consumers read: its depth is ordinary traffic, and the alarm cries wolf. Or "
        "an idle DLQ always reports 0: it may publish no data, and the default leaves the alarm unsure."),
    "concept_max_receive_count": (
        "Concept: maxReceiveCount counts receives",
        "A message is dead-lettered only after it failed: SQS counts receives, even one whose response "
        "was lost, so 1 dead-letters healthy messages."),
    "concept_dlq_clock": (
        "Concept: a DLQ message's clock keeps running",
        "The move to the DLQ restarts a message's retention, and the age metric says how old it is: on a "
        "standard queue neither holds."),
    "concept_killed_redrive": (
        "Concept: a move task outlives the script",
        "The move stops when the script dies, or a second task can start beside it: it runs on in SQS, "
        "one per queue."),
    "concept_outage": (
        "Concept: an outage is not poison",
        "Handing a failed message back at once is free: each receive counts, so good orders reach the "
        "DLQ within a second."),
    # 06_capstone
    "lambda_reports_failed_messages_by_message_id": (
        "Lambda's report names the failed messages by messageId",
        "itemIdentifier is the receipt handle (it is the messageId), or after the first failure every "
        "remaining message is reported too (FIFO's rule, not a standard queue's)."),
    "lambda_returns_only_the_failed_message_to_the_queue": (
        "Only the failed message comes back",
        "Raise to report a failure: the whole batch comes back, and good orders' receive counts climb "
        "with the poison one's."),
    "lambda_redelivery_charges_nothing_twice": (
        "A redelivered Lambda batch charges nothing twice",
        "Lambda runs each batch once: SQS may deliver it again, and the charge must be idempotent."),
    "consume_batch_takes_ten_at_a_time": (
        "Takes ten messages at a time",
        "One message per receive is enough, or one delete call per message: MaxNumberOfMessages "
        "defaults to 1, and the batch delete is the point."),
    "heartbeat_keeps_every_message_of_the_batch_hidden": (
        "The heartbeat keeps every message of the batch hidden",
        "Lesson 4's one-message heartbeat carried over, or stopped for good at the first failure: the "
        "others of the batch wait unrenewed."),
    "heartbeat_stops_when_the_step_returns": (
        "The heartbeat stops when the step returns",
        "The heartbeat ends by itself: never cancelled, it keeps failed messages hidden."),
    "heartbeat_stops_before_a_message_is_let_go": (
        "The heartbeat stops before a message is let go",
        "The order of delete and cancel at one instant does not matter, or a restarted timer may keep "
        "the message let go on its list: a beat renews a message already let go."),
    "failed_delete_entry_is_deleted_again_at_once": (
        "A failed delete entry is deleted again",
        "The batch call did not raise, so everything was deleted: DeleteMessageBatch reports failures "
        "in Failed, and a retry may succeed."),
    "sender_fault_entry_is_not_sent_again_as_is": (
        "An entry failed as the sender's fault is not resent as is",
        "Every failed entry is worth a retry: one with SenderFault true fails again as sent."),
    "poison_reaches_the_dlq_fast_and_uncharged": (
        "Poison reaches the DLQ fast and uncharged",
        "The batch was handled, so delete the batch: the poison message is deleted instead of set "
        "aside."),
    "retryable_failure_waits_and_is_charged_once": (
        "A retryable failure waits and is charged once",
        "A failed message should come back at once: during an outage it burns its receives and lands "
        "in the DLQ; or it is deleted with the batch."),
    "reports_the_failed_messages_by_message_id": (
        "Reports the failed messages by MessageId",
        "Only failed charges need a report, or a message charged before counts as failed: a delete that "
        "failed twice leaves a message that comes back."),
    "fix_redrive_and_replay_charge_each_order_once": (
        "Fix, redrive and replay charge each order once",
        "A replay of the DLQ is new work: without idempotent charges it charges twice."),
    "survives_every_fault_point_exactly_once": (
        "Exactly once at every fault point",
        "The pieces of lessons 1 to 5 are not all there: one crash point, or a restart minutes later, "
        "charges twice or loses an order."),
    "a_busy_day_charges_each_good_order_once": (
        "A busy day charges each good order once",
        "Each fault handled alone is enough: together (poison, outage, rival, failed entries) they "
        "expose a missing piece."),
    "concept_receipt_handle_report": (
        "Concept: Lambda matches reports by messageId",
        "Any identifier of the failed record will do: a receipt handle is no messageId of the batch, "
        "so all ten come back."),
    "concept_sender_fault": (
        "Concept: SenderFault means fix, don't retry",
        "A failed entry is retried until it succeeds: with SenderFault true it fails every time as sent."),
    "concept_waiting_turn": (
        "Concept: the messages waiting their turn",
        "A message's lease starts when its turn comes: it starts at the receive, for the whole batch."),
    "concept_beat_after_release": (
        "Concept: a beat after a release",
        "A beat renews only messages still in work: it renews whatever its list holds, undoing a "
        "back-off."),
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


def describe(grade_id: str) -> tuple[str, str]:
    """The plain name and the misconception of ``grade_id``; a grade_id not in the table gets its words.

    Parameters
    ----------
    grade_id : str
        The graded cell's nbgrader grade_id.

    Returns
    -------
    tuple of str
        ``(name, misconception)``; the misconception is ``""`` for a grade_id the table lacks.
    """
    if grade_id in BEHAVIOURS:
        return BEHAVIOURS[grade_id]
    return (title(grade_id), "")


def name(grade_id: str) -> str:
    """The behaviour a graded cell checks, for titles: from the table, else from its grade_id's words."""
    return describe(grade_id)[0]
