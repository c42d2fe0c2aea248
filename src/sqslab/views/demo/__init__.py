"""The live demo: a queue, its dead-letter queue and consumer lanes, driven by hand.

An instructor shows a queue misbehaving in front of a class: sends orders, starts consumers,
crashes one at a chosen fault point, moves the clock, switches the consumer's code, redrives the
dead-letter queue, and watches the count of charges per order. :class:`DemoSession` is that demo
as plain Python (:mod:`.session`); the widget that puts it on screen is ``sqslab.views.widgets``.
The package is split by job: the session, what it shows (:mod:`.state`), the consumer versions a
lane runs (:mod:`.consumers`) and the sentences it says (:mod:`.words`).

>>> from sqslab.views.demo import DemoSession                     # doctest: +SKIP
>>> demo = DemoSession(version="naive")                           # doctest: +SKIP
>>> demo.send(3); demo.crash(1, "effect_committed", "order-2")    # doctest: +SKIP
>>> demo.step(1); demo.advance(31); demo.start(1); demo.step(1)   # doctest: +SKIP
>>> print(demo.text())                                            # doctest: +SKIP
"""

from .session import DemoSession
from .state import FAULT_MENU, STATES, VERSIONS, Lane, MessageState

__all__ = ["DemoSession", "Lane", "MessageState", "VERSIONS", "STATES", "FAULT_MENU"]
