"""How a lab's clients are recorded and faulted, and who is who.

Every client the lab hands out carries botocore hooks registered here (one place, so no lesson or
test logs anything by hand): before a call they fail injected per-entry batch failures and fire
the faults armed at "before" points; after it they append the call and its answer to the run's
history and fire the "after" points. A :class:`Recorder` also keeps the run's map of who is who:
each message's business key and position in send order, its MessageIds and receipt handles, so
that a fault aimed at "message 2" finds it and the history speaks of ``order-2``.

The lab starts a new recorder with every run (:meth:`sqslab.lab.Lab.begin_run`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .exceptions import LabError, RunawayConsumer
from .faults import ClientHooks, all_entries_failed_response, call_points_for, throttled_response
from .moto import state
from .timers import running_timer

if TYPE_CHECKING:  # pragma: no cover
    from .lab import Lab

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


class Recorder:
    """The hooks of one run's clients, and the run's map of messages (keys, positions, ids, handles)."""

    def instrument(self, client: Any, actor: str) -> ClientHooks:
        """Register the recording and fault hooks on ``client``, whose calls are ``actor``'s; returns them."""
        hooks = ClientHooks(client)
        service = client.meta.service_model.endpoint_prefix
        state = {"calls": 0, "budget": None}
        client._sqslab_state = state  # the scenario runner resets the per-step budget here
        client._sqslab_actor = actor

        def before_build(params=None, model=None, context=None, **_):
            if context is not None:
                context["sqslab_params"] = params
                context["sqslab_failed"], context["sqslab_removed"] = self._fail_batch_entries(
                    model.name, params, actor)

        def before_call(model=None, context=None, **_):
            state["calls"] += 1
            if state["budget"] is not None and state["calls"] > state["budget"]:
                raise RunawayConsumer(
                    f"{actor} made more than {state['budget']} AWS calls in one step: a consumer step "
                    "should receive once, handle what came, and return (no endless loop).")
            params = (context or {}).get("sqslab_params") or {}
            targets = self._targets(model.name, params, None)
            for point in call_points_for(model.name, "before"):
                self.lab.faults.hit(point, actor, targets)
            if self.lab.faults.wants("throttle", model.name) and self.lab.faults.hit("throttle", actor, targets,
                                                                                   call=model.name):
                return throttled_response(model.name)
            if (context or {}).get("sqslab_failed") and not params.get("Entries"):
                return all_entries_failed_response()  # every entry failed: nothing left to send
            return None

        def after_call(http_response=None, parsed=None, model=None, context=None, **_):
            params = (context or {}).get("sqslab_params") or {}
            failed = (context or {}).get("sqslab_failed") or []
            if failed and isinstance(parsed, dict):
                parsed.setdefault("Failed", []).extend(failed)
            if service == "sqs":
                # The failed entries were taken out of the request; the record still names them.
                removed = (context or {}).get("sqslab_removed") or []
                asked = {**params, "Entries": params.get("Entries", []) + removed} if removed else params
                self._record(actor, model.name, asked, parsed or {})
            targets = self._targets(model.name, params, parsed)
            for point in call_points_for(model.name, "after"):
                fired = self.lab.faults.hit(point, actor, targets) if self.lab.faults.wants(point) else None
                if fired is not None and point == "duplicate_delivery":
                    self._inject_duplicate(params.get("QueueUrl"), fired.message_id)
                elif fired is not None and point == "send_timeout":
                    from botocore.exceptions import ReadTimeoutError

                    raise ReadTimeoutError(endpoint_url=f"https://sqs.{REGION}.amazonaws.com/ (injected)")

        hooks.register(f"before-parameter-build.{service}", before_build)
        hooks.register(f"before-call.{service}", before_call)
        hooks.register(f"after-call.{service}", after_call)
        return hooks

    # -- who is who ----------------------------------------------------------------------------
    def __init__(self, lab: "Lab"):
        self.lab = lab
        self._positions: dict[str, int] = {}       # business key -> position in send order
        self._message_key: dict[str, str] = {}     # MessageId -> business key
        self._key_message: dict[str, str] = {}     # business key -> latest MessageId
        self._handles: dict[str, str] = {}         # receipt handle -> MessageId
        self._receives: dict[str, int] = {}        # MessageId -> receives seen
        self._deduplicated: set[str] = set()
        # Batch entries that failed with SenderFault: sent again as they were, they fail again.
        self._sender_faulted: dict[tuple[str, str | None], dict] = {}

    def position_of(self, key: str | None) -> int | None:
        """The position (0-based, in order of first send) of a business key."""
        if key is None:
            return None
        if key not in self._positions:
            self._positions[key] = len(self._positions)
        return self._positions[key]

    def knows(self, key: str) -> bool:
        """True when ``key`` is the business key of a message sent in this run."""
        return key in self._positions

    def message_of(self, key: str) -> str | None:
        """The latest MessageId of a business key."""
        return self._key_message.get(key)

    def locate(self, key: str) -> tuple[int | None, str | None]:
        """``(position, latest MessageId)`` of a business key."""
        return self.position_of(key), self._key_message.get(key)

    def key_for(self, message_id: str | None = None, receipt_handle: str | None = None) -> str | None:
        """The business key of a message, by MessageId or receipt handle."""
        if receipt_handle is not None:
            message_id = self._handles.get(receipt_handle)
        return self._message_key.get(message_id) if message_id else None

    def _target(self, message_id: str | None = None, key: str | None = None):
        key = key or self.key_for(message_id)
        return self.position_of(key), key, message_id or (self._key_message.get(key) if key else None)

    def _targets(self, operation: str, params: dict, parsed: dict | None) -> list:
        if operation == "ReceiveMessage":
            if not parsed:
                return [(None, None, None)]
            msgs = parsed.get("Messages") or []
            return [self._target(m.get("MessageId")) for m in msgs] or [(None, None, None)]
        if "ReceiptHandle" in params:
            return [self._target(self._handles.get(params["ReceiptHandle"]))]
        if operation == "SendMessage":
            key = self.lab.key_of(params.get("MessageBody", ""))
            return [self._target(key=key)] if key else [(None, None, None)]
        if "Entries" in params:
            out = []
            for entry in params["Entries"]:
                if "ReceiptHandle" in entry:
                    out.append(self._target(self._handles.get(entry["ReceiptHandle"])))
                elif "MessageBody" in entry:
                    key = self.lab.key_of(entry["MessageBody"])
                    out.append(self._target(key=key) if key else (None, None, None))
            return out or [(None, None, None)]
        keys = [k for k in self._positions if _mentions(params, k)]
        return [self._target(key=k) for k in keys] or [(None, None, None)]

    def _fail_batch_entries(self, operation: str, params: dict, actor: str) -> tuple[list[dict], list[dict]]:
        # A per-entry failure: the entry is taken out of the request (so AWS never applies it)
        # and reported back in Failed while the call itself succeeds, as AWS batch calls do.
        # Returns the Failed entries to report and the request entries they stand for.
        if not operation.endswith("Batch") or not (self._sender_faulted or
                                                   self.lab.faults.wants("batch_entry_failure", operation)):
            return [], []
        entries = params.get("Entries") or []
        wanted = self.lab.faults.wants("batch_entry_failure", operation)
        keep, failed, removed = [], [], []
        for entry in entries:
            wrong = self._sender_faulted.get((operation, entry.get("ReceiptHandle") or entry.get("MessageBody")))
            if wrong is not None:  # sent again as it was: SQS says the same again
                failed.append({**wrong, "Id": entry["Id"]})
                removed.append(entry)
                continue
            if not wanted:
                keep.append(entry)
                continue
            if "ReceiptHandle" in entry:
                target = self._target(self._handles.get(entry["ReceiptHandle"]))
            else:
                key = self.lab.key_of(entry.get("MessageBody", ""))
                target = self._target(key=key) if key else (None, None, None)
            fired = None
            if len(entries) - len(failed) > 1:
                fired = self.lab.faults.hit("batch_entry_failure", actor, [target], call=operation)
            if fired is None:
                keep.append(entry)
                continue
            if fired.fault.sender_fault:
                code = "ReceiptHandleIsInvalid" if "ReceiptHandle" in entry else "InvalidParameterValue"
                failure = {"SenderFault": True, "Code": code,
                           "Message": "Injected per-entry failure: this entry, as sent, is not valid."}
                self._sender_faulted[(operation, entry.get("ReceiptHandle") or entry.get("MessageBody"))] = failure
            else:
                failure = {"SenderFault": False, "Code": "InternalError",
                           "Message": "Injected per-entry failure: this entry was not applied."}
            failed.append({"Id": entry["Id"], **failure})
            removed.append(entry)
        params["Entries"] = keep
        return failed, removed

    # -- recording -------------------------------------------------------------------------------
    def _record(self, actor: str, operation: str, params: dict, parsed: dict) -> None:
        error = (parsed.get("Error") or {}).get("Code")
        queue = self.lab._logical(queue_name_of(params.get("QueueUrl", "")))
        h = self.lab.history
        if operation == "SendMessage":
            if error:
                return
            self._record_send(actor, queue, params, parsed.get("MessageId"))
        elif operation == "SendMessageBatch":
            ids = {e["Id"]: e["MessageId"] for e in parsed.get("Successful", [])}
            for entry in params.get("Entries", []):
                if entry["Id"] in ids:
                    self._record_send(actor, queue, entry, ids[entry["Id"]])
        elif operation == "ReceiveMessage":
            if error:
                return
            timeout = params.get("VisibilityTimeout")
            if timeout is None:
                timeout = self._queue_visibility(queue)
            for m in parsed.get("Messages", []) or []:
                mid, handle = m["MessageId"], m["ReceiptHandle"]
                self._handles[handle] = mid
                key = self._message_key.get(mid) or self.lab.key_of(m.get("Body", ""))
                if key and mid not in self._message_key:
                    self._message_key[mid] = key
                    self._key_message.setdefault(key, mid)
                self._receives[mid] = self._receives.get(mid, 0) + 1
                now = h.now()
                h.append(actor, "receive", mid, key, receipt_handle=handle, queue=queue,
                         receive_count=self._receives[mid], visibility_timeout=int(timeout),
                         visible_until_t=round(now + int(timeout), 6))
        elif operation in ("DeleteMessage", "DeleteMessageBatch"):
            entries = [params] if operation == "DeleteMessage" else params.get("Entries", [])
            failed = {f["Id"]: f for f in parsed.get("Failed", [])} if operation != "DeleteMessage" else {}
            for entry in entries:
                handle = entry.get("ReceiptHandle", "")
                mid = self._handles.get(handle)
                failure = failed.get(entry.get("Id")) or {}
                problem = error or failure.get("Code")
                applied = (not problem) and not self._handle_still_live(queue, handle)
                blame = {"sender_fault": bool(failure["SenderFault"])} if "SenderFault" in failure else {}
                h.append(actor, "delete", mid, self.key_for(mid), receipt_handle=handle, queue=queue,
                         applied=applied, ok=not problem, error=problem, **blame, **_from_timer())
            for fail in failed.values():
                if not any(e.get("Id") == fail["Id"] for e in entries):
                    h.append(actor, "delete", None, None, queue=queue, applied=False, ok=False,
                             error=fail.get("Code"))
        elif operation in ("ChangeMessageVisibility", "ChangeMessageVisibilityBatch"):
            entries = [params] if operation == "ChangeMessageVisibility" else params.get("Entries", [])
            failed = {f["Id"]: f for f in parsed.get("Failed", [])} if operation != "ChangeMessageVisibility" else {}
            for entry in entries:
                mid = self._handles.get(entry.get("ReceiptHandle", ""))
                problem = error or (failed.get(entry.get("Id")) or {}).get("Code")
                timeout = int(entry.get("VisibilityTimeout", 0))
                h.append(actor, "visibility", mid, self.key_for(mid), queue=queue, timeout=timeout,
                         ok=not problem, error=problem,
                         visible_until_t=round(h.now() + timeout, 6), **_from_timer())

        if self.lab._ledger is not None and not error:
            moved = self.lab._ledger.observe(operation, queue, params, parsed, self.lab.clock.now(),
                                         self._queue_visibility(queue), self.lab._ledger.delay.get(queue, 0))
            for mid, body in moved:
                self.lab.history.append("sqs", "dlq_move", mid, self.key_for(mid) or self.lab.key_of(body),
                                    **{"from": queue, "to": self.lab._ledger.redrive[queue][0]})

    def _record_send(self, actor: str, queue: str, params: dict, message_id: str | None) -> None:
        body = params.get("MessageBody", "")
        key = self.lab.key_of(body)
        if message_id:
            if key:
                self._message_key[message_id] = key
                self._key_message[key] = message_id
            self.position_of(key)
        delivered = message_id not in self._deduplicated
        if self.lab._ledger is not None and message_id:
            # Off this process no listener hears SQS drop a FIFO duplicate, but SQS answers a
            # duplicate with the first send's MessageId: a MessageId seen before was not delivered.
            delivered = not self.lab._ledger.seen_before(queue, message_id, self.lab.clock.now())
        detail: dict[str, Any] = {"queue": queue, "body": body, "delivered": delivered}
        for field, name in (("MessageDeduplicationId", "dedup_id"), ("MessageGroupId", "group_id"),
                            ("DelaySeconds", "delay")):
            if params.get(field) is not None:
                detail[name] = params[field]
        self.lab.history.append(actor, "send", message_id, key, **detail)

    def on_sqs_event(self, event: dict) -> None:
        queue = event.get("from") or event.get("queue")
        if queue and queue not in self.lab._queues:
            return  # another lab's queue (labs can nest)
        kind = event.get("kind")
        if kind == "deduplicated":
            self._deduplicated.add(event.get("message_id"))
        elif kind == "dlq_move":
            mid = event.get("message_id")
            self.lab.history.append("sqs", "dlq_move", mid, self.key_for(mid) or self.lab.key_of(event.get("body", "")),
                                **{"from": event.get("from"), "to": event.get("to")})
        elif kind == "move_task":
            mid, old = event.get("message_id"), event.get("original_message_id")
            key = self.key_for(old) or self.lab.key_of(event.get("body", ""))
            if key and mid:
                self._message_key[mid] = key
                self._key_message[key] = mid
            self.lab.history.append("sqs", "move_task", mid, key, original_message_id=old,
                                **{"from": event.get("from"), "to": event.get("to")})

    # -- what only moto in this process can tell or do ----------------------------------------
    def _queue_visibility(self, queue: str) -> int:
        if not self.lab.in_process:  # as the lab created it (no need to ask SQS on every receive)
            return self.lab._ledger.visibility.get(queue, 30)
        return state.queue_visibility(queue, ACCOUNT_ID, REGION)

    def _handle_still_live(self, queue: str, handle: str) -> bool:
        if not self.lab.in_process:
            # SQS deletes only with a message's most recent handle (API Reference, DeleteMessage):
            # by the record, an older one left the message where it was.
            return self.lab._ledger.handle_superseded(queue, handle)
        return state.handle_ever_issued(queue, handle, ACCOUNT_ID, REGION)

    def _inject_duplicate(self, queue_url: str | None, message_id: str | None) -> None:
        if not self.lab.in_process:
            raise LabError(f"A duplicate delivery cannot be injected on {self.lab.endpoint.describe()}: only "
                           "moto in this process can be made to deliver a message again. Leave "
                           "'duplicate_delivery' out of the fault points on this endpoint.")
        if queue_url and message_id:
            state.inject_duplicate(queue_url, message_id, account_id=ACCOUNT_ID, region=REGION)
            self.lab.history.append("sqs", "note", message_id, self.key_for(message_id),
                                text="SQS will deliver this message again (duplicate delivery)")



def _from_timer() -> dict:
    # A call made by a process's timer (a heartbeat) says so: "which timer, and was it stopped
    # before the delete?" is then a question about the history.
    timer = running_timer()
    return {"timer": timer.id} if timer is not None else {}


def queue_name_of(url: str) -> str:
    """A queue's name from its URL (or the name itself)."""
    return url.rstrip("/").rsplit("/", 1)[-1] if url else ""


def _mentions(obj: Any, key: str) -> bool:
    if isinstance(obj, str):
        return obj == key or f'"{key}"' in obj
    if isinstance(obj, dict):
        return any(_mentions(v, key) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return any(_mentions(v, key) for v in obj)
    return False


