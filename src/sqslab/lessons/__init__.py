"""Each lesson's own pieces, one module per lesson, built on the core bench.

- :mod:`.idempotency`: lesson 2, the claims table in DynamoDB and the crash matrix;
- :mod:`.fifo` and :mod:`.producer`: lesson 3, FIFO order and deduplication, the producer's side
  and the outbox;
- :mod:`.heartbeat`: lesson 4, long work under a visibility timeout;
- :mod:`.dlq`: lesson 5, poison messages, dead-letter queues and redrive (with :mod:`.orders`, the
  orders and the idempotent charge lessons 5 and 6 share, and :mod:`.alarms`, the DLQ's CloudWatch side);
- :mod:`.capstone`: lesson 6, batches of ten.

Lesson 1 needs nothing beyond the core (``from sqslab import run_scenario, explore, Fault``).
"""
