"""exlab_cache.compat.log_writer: the app's line format and appends, by the
policy; the module's LOG_LINE_MAX_BYTES is read at each call."""
from __future__ import annotations

import datetime
import threading

import pytest

pytest.importorskip("msgspec")

WHEN = datetime.datetime(2026, 4, 17, 14, 31, 55, tzinfo=datetime.timezone.utc)


@pytest.fixture
def log_writer(compat):
    from exlab_cache.compat import log_writer

    return log_writer


def test_the_line_has_the_time_level_tags_and_message(log_writer):
    line = log_writer.format_log_line(
        timestamp_utc=WHEN, level="INFO", message="started", host="lab-1", run_kind="test"
    )
    assert line == "2026-04-17T14:31:55Z [INFO ] [host:lab-1] [kind:test] started"


def test_times_are_written_in_utc_and_naive_ones_taken_as_utc(log_writer):
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    aware = log_writer.format_log_line(
        timestamp_utc=WHEN.astimezone(plus_two), level="INFO", message="m"
    )
    naive = log_writer.format_log_line(
        timestamp_utc=WHEN.replace(tzinfo=None), level="INFO", message="m"
    )
    assert aware == naive == "2026-04-17T14:31:55Z [INFO ] m"


def test_a_line_of_exactly_the_limit_is_kept_and_one_byte_more_is_cut(log_writer):
    empty = log_writer.format_log_line(timestamp_utc=WHEN, level="INFO", message="")
    room = log_writer.LOG_LINE_MAX_BYTES - len(empty)
    exact = log_writer.format_log_line(timestamp_utc=WHEN, level="INFO", message="é" * (room // 2))
    over = log_writer.format_log_line(
        timestamp_utc=WHEN, level="INFO", message="é" * (room // 2 + 1)
    )
    assert len(exact.encode()) <= log_writer.LOG_LINE_MAX_BYTES and "truncated" not in exact
    assert over.endswith("...[truncated]") and len(over.encode()) <= log_writer.LOG_LINE_MAX_BYTES


def test_setting_the_module_limit_takes_effect_at_the_next_call(log_writer, monkeypatch):
    monkeypatch.setattr(log_writer, "LOG_LINE_MAX_BYTES", 30)
    line = log_writer.format_log_line(timestamp_utc=WHEN, level="INFO", message="x" * 40)
    assert line == "2026-04-17T14:31" + "...[truncated]"  # 16 bytes kept, 14 of marker
    monkeypatch.setattr(log_writer, "LOG_LINE_MAX_BYTES", 3)
    assert (
        log_writer.format_log_line(timestamp_utc=WHEN, level="INFO", message="x")
        == "...[truncated]"
    )


def test_an_appended_line_gets_one_newline_and_its_folders(log_writer, root):
    log = root / "CONFOCAL_01" / ".exlab-wizard" / "wizard.lab-1.log"
    log_writer.append_log_line(log, "one")
    log_writer.append_log_line(log, "two")
    assert log.read_text() == "one\ntwo\n"


def test_an_append_to_a_name_that_is_not_a_log_file_is_refused(log_writer, root):
    # The policy would take the name for a folder and write beneath it.
    events = root / "events"
    with pytest.raises(ValueError, match=r"\*\.log"):
        log_writer.append_log_line(events, "one")
    assert not events.exists()


def test_an_appended_line_stays_one_line(log_writer, root):
    log = root / "wizard.lab-1.log"
    log_writer.append_log_line(log, "Traceback:\n  boom")
    assert log.read_text().splitlines() == ["Traceback:\\n  boom"]


def test_concurrent_appends_never_interleave(log_writer, root):
    log = root / "wizard.lab-1.log"
    lines = [f"thread {n:02d} " + "x" * 200 for n in range(16)]
    threads = [
        threading.Thread(target=log_writer.append_log_line, args=(log, line)) for line in lines
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(log.read_text().splitlines()) == lines
