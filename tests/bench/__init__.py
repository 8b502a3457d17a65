"""``python -m tests.bench``: jobhub measured side by side with plain Celery.

Three configurations run the same no-op task on identical prefork workers against the
local PostgreSQL and Redis: **A** plain Celery without a result backend, **B** Celery with
its database result backend, **J** jobhub with the full lifecycle persisted. Other modes
measure the Completed lag, worker memory over a long run, and job-history queries over a
million rows. Nothing here is imported by jobhub itself.
"""
