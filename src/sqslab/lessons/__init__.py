"""Each lesson's own pieces, one module per lesson, built on the core bench.

- :mod:`.polling` and :mod:`.steps`: lesson 1, what short and long polls cost on an almost-empty queue,
  and a private bench for calling one consumer step directly;
- :mod:`.idempotency`: lesson 2, the claims table in DynamoDB, the crash matrix, payload conflicts,
  Powertools' idempotency utility on the bench, and the idempotent charge later lessons are given;
- :mod:`.fifo` and :mod:`.producer`: lesson 3, FIFO order and deduplication, the producer's side
  and the outbox;
- :mod:`.heartbeat`: lesson 4, long work under a visibility timeout;
- :mod:`.dlq`: lesson 5, poison messages, dead-letter queues and redrive (with :mod:`.orders`, the
  orders and the idempotent charge lessons 5 and 6 share, and :mod:`.alarms`, the DLQ's CloudWatch side);
- :mod:`.capstone`: lesson 6, batches of ten.
"""
