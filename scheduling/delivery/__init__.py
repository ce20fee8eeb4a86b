"""Reminder delivery: claim due rows in batches, send each batch once, mark it in one query.

DESIGN.md §4 promises 4–5; docs/adr/0002-reminder-delivery.md. Planning rows lives in
``scheduling/reminders.py``. Two modules: ``dispatch`` (the beat tick: claim due rows, size
batches, publish them) and ``send`` (send one claimed batch under its row locks).

Per batch of ``REMINDER_SEND_BATCH_SIZE`` rows the database sees a constant number of queries,
whatever the batch size (issue 17):

- the tick: one ``UPDATE … FOR UPDATE SKIP LOCKED … RETURNING`` claims a batch; the quiet-hour
  test is ``patient.timezone = ANY(<zones where it is now 08:00–21:00>)``, the list computed once
  per tick in Python with zoneinfo (no ``pg_timezone_names`` read, no per-row zone math in SQL);
- the send: one lease ``UPDATE`` (commit), one locking ``SELECT`` with the patients, one for the
  sessions (+ clinic, the preparation text), one for STOP opt-outs, one for the SMS sent this
  week, the provider calls, one ``UPDATE … FROM unnest(…)`` marking every row (commit).

Back-pressure is the depth of the ``reminders`` queue (messages waiting in the broker), not a
fixed number of rows per minute: a tick publishes batches until the queue holds
``REMINDER_QUEUE_HIGH_WATER`` messages, and a worker that finishes a full batch claims the next
one itself, so throughput grows with the number of workers.
"""
