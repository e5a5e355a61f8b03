"""The suite fails when any log record made while it runs carries a phone number or an e-mail
address (before the masking filter of lbm.observability, which is only a second line of
defence). Loaded by tests/conftest.py; the records are read at the root logger, first of its
handlers, so they are seen as the code made them."""

import logging

import pytest

from lbm.observability import find_pii


class _Guard(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.found: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a record whose arguments do not fit its message
            message = f"{record.msg} {record.args}"
        extra = " ".join(
            str(v) for k, v in vars(record).items() if k not in _STANDARD and isinstance(v, str)
        )
        hits = find_pii(f"{message} {extra}")
        if hits:
            self.found.append(f"{record.name}: {message[:300]} ({', '.join(hits)})")


_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
GUARD = _Guard()


def pytest_runtest_setup(item):
    """Before each test: anything that configures logging again (django.setup() when a test
    module imports the WSGI application) replaces the root logger's handlers."""
    root = logging.getLogger()
    if not root.handlers or root.handlers[0] is not GUARD:
        if GUARD in root.handlers:
            root.removeHandler(GUARD)
        root.handlers.insert(0, GUARD)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    logging.getLogger().removeHandler(GUARD)
    if GUARD.found:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = ["personal data reached the logs:", *GUARD.found[:20]]
        if reporter:
            reporter.write_line("\n".join(lines), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
