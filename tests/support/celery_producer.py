"""A producer that speaks only Celery's protocol: plain Celery, no jobhub import.

Run as a script: ``python celery_producer.py BROKER QUEUE SPEC_JSON``, where the spec
holds ``name``, ``task_id``, and optionally ``args``, ``kwargs``, ``headers`` and
``copies`` (the same message sent that many times). On RabbitMQ the queue is declared as
jobhub declares its queues (``task_queue_max_priority``), as a service must configure it.
"""

from __future__ import annotations

import json
import sys

from celery import Celery

JOBHUB_MAX_PRIORITY = 9


def main(broker: str, queue: str, spec_json: str) -> None:
    spec = json.loads(spec_json)
    app = Celery("elsewhere", broker=broker)
    if broker.startswith("amqp"):
        app.conf.task_queue_max_priority = JOBHUB_MAX_PRIORITY
    for _ in range(int(spec.get("copies", 1))):
        app.send_task(
            spec["name"],
            args=spec.get("args"),
            kwargs=spec.get("kwargs"),
            queue=queue,
            task_id=spec["task_id"],
            headers=spec.get("headers"),
        )
    app.close()


if __name__ == "__main__":
    main(*sys.argv[1:4])
