"""The queues a worker consumes, declared before it starts consuming.

On RabbitMQ a queue made earlier without priorities (by an older jobhub, or by hand)
cannot be declared with them: the broker refuses (PRECONDITION_FAILED) and Celery stops
the worker with a traceback deep in its start-up. ``declare_consumed`` declares the
queues first, exactly as the worker will, and turns that refusal into one line saying
what to do (``jobhub.placement.unprioritised_queue``). Other brokers need nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from celery import Celery

from jobhub.errors import ConfigurationError
from jobhub.placement import unprioritised_queue

logger = logging.getLogger(__name__)


def declare_consumed(app: Celery, names: Sequence[str]) -> None:
    """Declare the queues ``names`` on RabbitMQ as the worker would; ConfigurationError
    when one exists without priorities. Anything else (the broker cannot be reached, it
    refuses for another reason) is left to the worker, which reports or waits for it."""
    with app.connection_for_write() as connection:
        if connection.transport.driver_type != "amqp":
            return
        try:
            connection.ensure_connection(max_retries=1)
            channel = connection.default_channel
        except connection.connection_errors as exc:
            logger.debug("queues not declared before start: %s", exc)
            return
        for name in names:
            queue = app.amqp.queues[name]  # a missing one is made as the worker makes it
            try:
                queue.bind(channel).declare()
            except (*connection.channel_errors, *connection.connection_errors) as exc:
                fix = unprioritised_queue(name, exc)
                if fix is not None:
                    raise ConfigurationError(fix) from exc
                logger.debug("queue %s not declared before start: %s", name, exc)
                return
