from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import structlog

from tikrelay.config.logging import configure_logging, redact_text

TOKEN = "123456789:AAEhBP0av28sKs7-abcdefghijklmnopqrs"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    # configure_logging binds the captured stderr of this test; later tests must not write to
    # it once pytest has closed it.
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def test_redact_text_scrubs_tokens_and_url_passwords() -> None:
    text = f"POST https://api.telegram.org/bot{TOKEN}/sendVideo via http://u:hunter2@proxy:8080"
    clean = redact_text(text)
    assert TOKEN not in clean
    assert "hunter2" not in clean
    assert "sendVideo" in clean
    assert "http://u:[redacted]@proxy:8080" in clean


def test_log_lines_never_carry_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json=True)
    log = structlog.get_logger()
    log.info(
        "sending",
        url=f"https://api.telegram.org/bot{TOKEN}/getMe",
        bot_token=TOKEN,
        nested={"cookie": "sid_tt=abc", "chat": -100},
    )
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert TOKEN not in json.dumps(line)
    assert line["bot_token"] == "[redacted]"
    assert line["nested"] == {"cookie": "[redacted]", "chat": -100}
    assert line["event"] == "sending"
