"""kombu's file transport, with messages that appear whole or not at all.

kombu writes a message file in place, under its final name, and its reader does not wait
for the writer's lock: a worker polling while beat or a producer writes can pick up an
empty file, and its consumer dies on the JSON error. Here a message is written under a
name the reader ignores and renamed into place when complete (a rename is atomic on one
file system). Everything else is kombu's.

jobhub's Celery app uses this transport for the embedded default's file broker (see
``celery_app.celery_config``).
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

TRANSPORT = "jobhub.worker.file_transport:Transport"
"""The value of Celery's ``broker_transport`` setting that selects this transport."""


class Channel(filesystem.Channel):
    """A file channel whose messages are renamed into place once written."""

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}.part")  # not a message name
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    """kombu's file transport with ``Channel`` above."""

    Channel = Channel

    @property
    def default_connection_params(self) -> dict[str, object]:
        """No host: a folder needs none. kombu's default names ``localhost`` and so warns,
        at every first publish, that none was given."""
        return {"port": self.default_port}
