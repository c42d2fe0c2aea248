"""The canary: is the bench still the bench?

Learner code runs in the same kernel as the grading tests, so it could patch the bench (disable
faults, stop the checker from failing anything, freeze the clock). No sandbox prevents that, so
the grader detects it: after the learner's cells it runs :func:`canary`, which checks that faults
still fire, the checker still rejects a known-wrong consumer, and the clock still moves.
"""

from __future__ import annotations


def _delete_first(p) -> None:
    # Known wrong: deletes before the work, so a crash in between loses the message.
    for m in p.sqs.receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=10,
                                   WaitTimeSeconds=20).get("Messages", []):
        p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])
        p.handle(m["Body"])


def _naive(p) -> None:
    # Known at-least-once: charges, then deletes (a crash in between charges twice). It long-polls,
    # as every consumer of the course does.
    for m in p.sqs.receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=10,
                                   WaitTimeSeconds=20).get("Messages", []):
        p.handle(m["Body"])
        p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])


def canary() -> tuple[bool, str]:
    """Return ``(ok, reason)``: ok is False when the bench no longer behaves as shipped."""
    try:

        from . import exceptions, faults, scenario
        from . import lab as lab_module

        if not issubclass(exceptions.Crash, BaseException) or issubclass(exceptions.Crash, Exception):
            return False, "the bench's Crash is no longer a BaseException"
        bench = lab_module.Lab(seed=12345)
        bench.start()
        try:
            t0 = bench.clock.now()
            bench.clock.advance(10)
            if abs(bench.clock.now() - t0 - 10) > 0.01:
                return False, "the bench's clock no longer moves when told to"
            lost = scenario.run_scenario(_delete_first, messages=1, expect="at_least_once", lab=bench,
                                         faults=[faults.Fault("after_delete", 0)])
            if lost.verdict.ok or not lost.faults:
                return False, "the bench no longer injects a crash or no longer rejects a consumer that loses messages"
            twice = scenario.run_scenario(_naive, messages=1, expect="exactly_once", lab=bench,
                                          faults=[faults.Fault("effect_committed", 0)])
            if twice.verdict.ok or twice.effects.get("order-1") != 2:
                return False, "the bench no longer redelivers after a crash or no longer counts duplicate effects"
            fine = scenario.run_scenario(_naive, messages=2, expect="at_least_once", lab=bench)
            if not fine.verdict.ok:
                return False, "the bench rejects a correct at-least-once consumer"
        finally:
            bench.close()
        return True, "the bench injects faults, moves its clock and rejects wrong consumers as shipped"
    except BaseException as exc:  # the canary must answer, whatever was done to the bench
        return False, f"the bench failed its self-test: {type(exc).__name__}: {exc}"
