import logging
import sys

from revmatch.log import progress, setup_logging


def test_setup_logging_sends_records_and_progress_to_the_log_file(tmp_path):
    log = tmp_path / "logs" / "job.log"
    saved = sys.stderr
    try:
        setup_logging(log)
        logging.getLogger("revmatch.test").info("hello %d", 42)
        assert list(progress(range(3), desc="items", total=3)) == [0, 1, 2]
        sys.stderr.flush()
    finally:
        sys.stderr = saved
        logging.getLogger().handlers.clear()
    text = log.read_text()
    assert "INFO revmatch.test: hello 42" in text
    assert "items" in text and "3/3" in text
