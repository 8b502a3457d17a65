"""The embedded default's file broker: messages are read whole, however busy the writers."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from kombu import Connection, Queue
from kombu.simple import SimpleQueue

from jobhub.config import Settings
from jobhub.worker import file_transport
from jobhub.worker.app import create_celery_app

WRITERS = 4
EACH = 150


def _connection(folder: Path) -> Connection:
    return Connection(
        "filesystem://",
        transport=file_transport.TRANSPORT,
        transport_options={
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "store_processed": False,
        },
    )


def test_a_reader_racing_many_writers_gets_every_message_whole(tmp_path: Path) -> None:
    received: list[int] = []
    errors: list[BaseException] = []

    def write(offset: int) -> None:
        with _connection(tmp_path) as connection:
            queue = SimpleQueue(connection, Queue("race", routing_key="race"))
            for n in range(EACH):
                queue.put({"n": offset + n, "padding": "x" * 4096})
            queue.close()

    def read() -> None:
        try:
            with _connection(tmp_path) as connection:
                queue = SimpleQueue(connection, Queue("race", routing_key="race"))
                while len(received) < WRITERS * EACH:
                    message = queue.get(timeout=20)
                    received.append(message.payload["n"])
                    message.ack()
                queue.close()
        except BaseException as exc:
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=write, args=(w * EACH,)) for w in range(WRITERS)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    reader.join(timeout=60)

    assert errors == []
    assert sorted(received) == list(range(WRITERS * EACH))
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_the_embedded_default_uses_it(tmp_path: Path) -> None:
    app = create_celery_app(Settings(data_dir=tmp_path))
    assert app.conf.broker_transport == file_transport.TRANSPORT


def test_a_message_being_written_is_invisible_to_readers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writing, finish = threading.Event(), threading.Event()

    def slow_bytes(text: str) -> bytes:  # the writer stops half way through its message
        writing.set()
        finish.wait(10)
        return text.encode()

    monkeypatch.setattr(file_transport, "str_to_bytes", slow_bytes)
    writer = threading.Thread(target=_put_one, args=(tmp_path,))
    writer.start()
    assert writing.wait(10)
    try:
        names = [p.name for p in tmp_path.iterdir()]
        assert names  # the file being written exists...
        assert not [n for n in names if n.endswith(".race.msg")]  # ...but not as a message
        with _connection(tmp_path) as connection:
            queue = SimpleQueue(connection, Queue("race", routing_key="race"))
            with pytest.raises(queue.Empty):
                queue.get(block=False)
            queue.close()
    finally:
        finish.set()
        writer.join()
    with _connection(tmp_path) as connection:
        queue = SimpleQueue(connection, Queue("race", routing_key="race"))
        assert queue.get(timeout=5).payload == {"n": 1}
        queue.close()


def _put_one(folder: Path) -> None:
    with _connection(folder) as connection:
        queue = SimpleQueue(connection, Queue("race", routing_key="race"))
        queue.put({"n": 1})
        queue.close()
