"""exlab_cache.compat.ingest_writer: the app's IngestWriter over the policy."""
from __future__ import annotations

import asyncio
import socket

import pytest

pytest.importorskip("msgspec")

from conftest import TIMESTAMP, load  # noqa: E402

INGEST = "CONFOCAL_01/P1/Runs/R1/.exlab-wizard/ingest.json"


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def writer(compat):
    from exlab_cache.compat import ingest_writer

    return ingest_writer.IngestWriter()


def payload(state="staging"):
    from exlab_cache.compat.schemas import IngestJson

    history = [{"state": state, "at": "2026-04-17T14:35:00Z", "host": "lab-1"}]
    return IngestJson(
        "1.1",
        "Pilot",
        "CONFOCAL_01",
        "experimental",
        "CONFOCAL_01/P1/R1",
        "smb_mount",
        state,
        history,
    )


def test_a_transition_appends_to_history_and_returns_the_record(writer, root):
    from exlab_cache.compat.schemas import IngestJson

    run(writer.write_ingest(root / INGEST, payload()))
    moved = run(
        writer.append_state_transition(
            root / INGEST,
            "complete",
            host="lab-2",
            files_received=142,
            bytes_received=48_293_847_234,
        )
    )
    assert isinstance(moved, IngestJson) and moved.current_state == "complete"
    last = moved.history[-1]
    assert (last["host"], last["files_received"], last["bytes_received"]) == (
        "lab-2",
        142,
        48_293_847_234,
    )
    assert TIMESTAMP.match(last["at"])
    assert run(writer.read_ingest(root / INGEST)) == moved


def test_an_illegal_transition_is_a_value_error_and_the_file_stays(writer, root):
    run(writer.write_ingest(root / INGEST, payload("cleared")))
    before = (root / INGEST).read_bytes()
    with pytest.raises(ValueError, match=r"^illegal state transition 'cleared' -> 'staging'"):
        run(writer.append_state_transition(root / INGEST, "staging", host="lab-1"))
    assert (root / INGEST).read_bytes() == before


def test_a_second_write_is_file_exists_and_the_first_stays(writer, root):
    run(writer.write_ingest(root / INGEST, payload()))
    with pytest.raises(FileExistsError):
        run(writer.write_ingest(root / INGEST, payload("complete")))
    assert load(root, INGEST)["current_state"] == "staging"


def test_the_extras_of_another_state_are_dropped(writer, root):
    run(writer.write_ingest(root / INGEST, payload("complete")))
    moved = run(
        writer.append_state_transition(root / INGEST, "sync_queued", host="h", files_received=9)
    )
    assert "files_received" not in moved.history[-1]


def test_the_default_host_is_this_machines_name(compat):
    from exlab_cache.compat.ingest_writer import default_host

    assert default_host() == socket.gethostname()
