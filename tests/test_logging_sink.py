"""``LoggingSink``: one standard-library ``LogRecord`` per exposure, whose message is the
exposure record as a JSON line and whose ``exposure`` attribute is the record dict.

Each test logs to its own logger (named after the test, not propagating) with a handler
that keeps the ``LogRecord`` objects, so nothing depends on the global logging setup.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

import pytest

import flagstone
from flagstone.sinks import BatchingSink, Exposure, LoggingSink, RecordBatch, SinkError
from tests.sinkdata import SNAPSHOT

CLIENT = flagstone.Client.from_dict(SNAPSHOT)

WAIT = 30.0


def exposure(unit: str = "user-1", at: float | None = None) -> Exposure:
    resolution = CLIENT.evaluate("checkout", {"user": {"id": unit}}, apply=False)
    return Exposure(resolution, time.time() if at is None else at)


class Keep(logging.Handler):
    """Keeps every ``LogRecord`` it is handed."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logger(request) -> Iterator[logging.Logger]:
    """A logger of the test's own, at DEBUG, that does not propagate."""
    logger = logging.getLogger(f"tests.exposures.{request.node.name}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)
    logger.propagate = True


@pytest.fixture
def kept(logger) -> Keep:
    handler = Keep()
    logger.addHandler(handler)
    return handler


# -- one LogRecord per exposure --------------------------------------------------------------


def test_each_exposure_becomes_one_log_record(logger, kept) -> None:
    sink = LoggingSink(logger)
    for unit in ("user-1", "user-2", "user-3"):
        sink.emit(exposure(unit))
    assert [record.exposure["targeting_key"] for record in kept.records] == [
        "user-1",
        "user-2",
        "user-3",
    ]


def test_message_is_the_record_as_a_compact_json_line(logger, kept) -> None:
    sink = LoggingSink(logger)
    sink.emit(exposure())
    (record,) = kept.records
    message = record.getMessage()
    assert json.loads(message) == record.exposure
    assert message == json.dumps(record.exposure, separators=(",", ":"))


def test_exposure_attribute_is_the_exposure_record(logger, kept) -> None:
    item = exposure()
    LoggingSink(logger).emit(item)
    (record,) = kept.records
    assert record.exposure == item.to_record()


def test_message_is_not_treated_as_a_format_string(logger, kept) -> None:
    sink = LoggingSink(logger)
    sink.emit(exposure("100%s %d %(name)s"))
    (record,) = kept.records
    assert json.loads(record.getMessage())["targeting_key"] == "100%s %d %(name)s"


def test_write_batch_logs_every_record_of_the_batch_in_order(logger, kept) -> None:
    batch = RecordBatch([exposure(unit).to_record() for unit in ("a", "b", "c")])
    LoggingSink(logger).write_batch(batch)
    assert [record.exposure for record in kept.records] == batch.records


def test_write_batch_of_lines_logs_the_lines_as_messages(logger, kept) -> None:
    lines = RecordBatch([exposure(unit).to_record() for unit in ("a", "b")]).lines
    LoggingSink(logger).write_batch(RecordBatch(lines=lines))
    assert [record.getMessage() for record in kept.records] == lines


# -- level and logger ------------------------------------------------------------------------


def test_records_are_logged_at_info_by_default(logger, kept) -> None:
    LoggingSink(logger).emit(exposure())
    assert [record.levelno for record in kept.records] == [logging.INFO]


@pytest.mark.parametrize("level", [logging.DEBUG, logging.WARNING, logging.ERROR, 25])
def test_records_are_logged_at_the_given_level(logger, kept, level) -> None:
    LoggingSink(logger, level=level).emit(exposure())
    assert [record.levelno for record in kept.records] == [level]


def test_logger_can_be_given_by_name(logger, kept) -> None:
    sink = LoggingSink(logger.name)
    sink.emit(exposure())
    assert (sink.logger, len(kept.records)) == (logger, 1)


def test_logger_can_be_given_as_a_logger_object(logger, kept) -> None:
    sink = LoggingSink(logger)
    sink.emit(exposure())
    assert (sink.logger, [record.name for record in kept.records]) == (logger, [logger.name])


def test_default_logger_is_flagstone_exposures() -> None:
    assert LoggingSink().logger is logging.getLogger("flagstone.exposures")


def test_nothing_is_logged_when_the_level_is_disabled(logger, kept) -> None:
    logger.setLevel(logging.WARNING)
    LoggingSink(logger, level=logging.INFO).emit(exposure())
    assert kept.records == []


def test_records_are_not_decoded_when_the_level_is_disabled(logger, kept) -> None:
    logger.setLevel(logging.WARNING)
    # lines that are not JSON: any attempt to build the record dicts would raise
    LoggingSink(logger, level=logging.INFO).write_batch(RecordBatch(lines=["not json"]))
    assert kept.records == []


def test_a_handler_level_above_the_sink_level_filters_the_records(logger) -> None:
    handler = Keep()
    handler.setLevel(logging.ERROR)
    logger.addHandler(handler)
    LoggingSink(logger, level=logging.INFO).emit(exposure())
    assert handler.records == []


# -- as a sink -------------------------------------------------------------------------------


def test_repeats_are_logged_once(logger, kept) -> None:
    sink = LoggingSink(logger)
    sink.emit(exposure(at=1_000_000.0))
    sink.emit(exposure(at=1_000_001.0))
    assert (len(kept.records), sink.stats()["deduplicated"]) == (1, 1)


def test_dedup_false_logs_repeats(logger, kept) -> None:
    sink = LoggingSink(logger, dedup=False)
    sink.emit(exposure(at=1_000_000.0))
    sink.emit(exposure(at=1_000_001.0))
    assert len(kept.records) == 2


def test_client_exposures_are_logged(logger, kept) -> None:
    client = flagstone.Client.from_dict(SNAPSHOT, sinks=[LoggingSink(logger)])
    client.evaluate("checkout", {"user": {"id": "user-7"}})
    assert [record.exposure["targeting_key"] for record in kept.records] == ["user-7"]


def test_emit_after_close_is_dropped_as_closed(logger, kept) -> None:
    sink = LoggingSink(logger)
    sink.close()
    sink.emit(exposure())
    assert (kept.records, sink.stats()["dropped_by_reason"]) == ([], {"closed": 1})


def test_write_batch_after_close_raises_sink_error(logger, kept) -> None:
    sink = LoggingSink(logger)
    sink.close()
    with pytest.raises(SinkError):
        sink.write_batch(RecordBatch([exposure().to_record()]))


# -- inside BatchingSink ---------------------------------------------------------------------


def test_batching_sink_logs_every_exposure_in_order(logger, kept) -> None:
    sink = BatchingSink(LoggingSink(logger), max_batch=4, max_latency=0.01)
    units = [f"user-{index}" for index in range(30)]
    for unit in units:
        sink.emit(exposure(unit))
    assert sink.flush(WAIT) is True
    sink.close()
    assert [record.exposure["targeting_key"] for record in kept.records] == units


def test_batching_sink_logs_from_its_worker_thread(logger, kept) -> None:
    sink = BatchingSink(LoggingSink(logger))
    sink.emit(exposure())
    assert sink.flush(WAIT) is True
    sink.close()
    assert [record.threadName for record in kept.records] == ["flagstone-exposures"]


def test_batching_sink_messages_are_json_of_the_attached_records(logger, kept) -> None:
    sink = BatchingSink(LoggingSink(logger))
    for unit in ("user-1", "user-2"):
        sink.emit(exposure(unit))
    sink.flush(WAIT)
    sink.close()
    assert [json.loads(record.getMessage()) for record in kept.records] == [
        record.exposure for record in kept.records
    ]


def test_caplog_sees_exposures_of_the_default_logger(caplog) -> None:
    sink = BatchingSink(LoggingSink())
    with caplog.at_level(logging.INFO, logger="flagstone.exposures"):
        sink.emit(exposure("user-9"))
        assert sink.flush(WAIT) is True
    sink.close()
    assert [
        json.loads(record.getMessage())["targeting_key"]
        for record in caplog.records
        if record.name == "flagstone.exposures"
    ] == ["user-9"]
