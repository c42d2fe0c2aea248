"""A bench for calling one consumer step directly: its own lab, queue, client and handler.

``run_scenario`` judges a consumer by the outcome of a whole run. Some contracts are about a single
step: what it returns, that one failing message does not stop the others, that a message is gone
after its retry succeeded. :class:`StepBench` sets up what such a graded test needs and nothing the
learner owns: a private lab (never the notebook's), a queue with a few orders, a recorded client and
a handler that fails for the orders it is told to, and calls the exercise function itself.

>>> with StepBench(orders=2, fail=["order-1"]) as bench:
...     finished = bench.run(consume_once)       # steps until nothing is visible; the sum of what they returned
...     bench.left                               # ['order-1']: waiting for its retry
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, Iterable

from ..lab import Lab, default_key_of

__all__ = ["StepBench"]

#: Labs opened inside another share its moto: every bench's queue gets a name of its own.
_benches = itertools.count(1)


class StepBench:
    """A private lab with one queue of orders, for calling a consumer step ``step(sqs, queue_url, handle)`` directly.

    Parameters
    ----------
    orders:
        How many orders to send (``order-1``, ``order-2``, ...).
    fail:
        Orders whose handler raises an ordinary exception.
    failures:
        How many times each of them fails before it succeeds (default: always).
    visibility_timeout:
        The queue's visibility timeout.
    """

    def __init__(self, orders: int = 3, *, fail: Iterable[str] = (), failures: int | None = None,
                 visibility_timeout: int = 30):
        self.orders = orders
        self.fail = set(fail)
        self.failures = failures
        self.visibility_timeout = visibility_timeout
        #: The key of every handler call, in order (failed ones included).
        self.calls: list[str | None] = []
        self.lab: Lab | None = None

    def __enter__(self) -> "StepBench":
        self.lab = Lab().start()
        self.queue = self.lab.queue(f"graded-orders-{next(_benches)}", visibility_timeout=self.visibility_timeout)
        self.ids = {}
        for i in range(1, self.orders + 1):
            self.ids[self.lab.send(self.queue, {"order_id": f"order-{i}", "amount": 10 * i})] = f"order-{i}"
        #: The client the step gets.
        self.sqs = self.lab.client(actor="grader")
        return self

    def __exit__(self, *exc: Any) -> None:
        self.lab.close()

    @property
    def queue_url(self) -> str:
        """The queue's URL."""
        return self.queue.url

    def handle(self, body: str) -> None:
        """The business handler the step gets: fails for the orders in ``fail``, succeeds for the others."""
        key = default_key_of(body)
        self.calls.append(key)
        if key in self.fail and (self.failures is None or self.calls.count(key) <= self.failures):
            raise RuntimeError(f"the payment service refused {key} (a failure the bench injected)")

    def run(self, step: Callable[[Any, str, Callable[[str], Any]], Any], *, max_steps: int = 30) -> int:
        """Call ``step(sqs, queue_url, handle)`` until no message is visible; the sum of what the steps returned.

        A step that raises is reported as the failure it is: a failing message must not stop a step.
        The clock is not moved, so a message a step left in flight stays there.
        """
        total = 0
        for _ in range(max_steps):
            if not self.lab.depth(self.queue)["visible"]:
                break
            try:
                returned = step(self.sqs, self.queue.url, self.handle)
            except Exception as error:
                raise AssertionError(f"{getattr(step, '__name__', 'the step')} raised {error!r}: a failing message "
                                     "must not stop the step (nor the consumer process)") from None
            total += returned if isinstance(returned, int) and not isinstance(returned, bool) else 0
        return total

    def lease_runs_out(self) -> None:
        """Move the clock past the visibility timeout: messages left in flight become visible again."""
        self.lab.clock.advance(self.visibility_timeout + 1)

    @property
    def left(self) -> list[str]:
        """The orders still in the queue (visible, in flight or delayed), sorted."""
        return sorted(self.ids.get(m["message_id"], "?") for m in self.lab.snapshot(self.queue)["messages"])

    def receive_all(self, receive: Callable[[Any, str], Any], *, max_calls: int = 30) -> dict[str, dict]:
        """Call ``receive(sqs, queue_url)`` until every order came (a short poll may bring fewer); MessageId -> message."""
        got: dict[str, dict] = {}
        for _ in range(max_calls):
            batch = receive(self.sqs, self.queue.url)
            if not isinstance(batch, list):
                raise AssertionError(f"{getattr(receive, '__name__', 'receive')} should return a list of messages, "
                                     f"not {type(batch).__name__}")
            got.update({m["MessageId"]: m for m in batch})
            if set(got) >= set(self.ids):
                break
        return got
