"""Settings from the environment: limits and durations are numbers above 0, or the stack refuses to start."""

from __future__ import annotations

import pytest

from midiscribe.service.config import Settings


@pytest.mark.parametrize("name", ["MIDISCRIBE_MAX_DURATION_S", "MIDISCRIBE_MAX_PIANO_DURATION_S",
                                  "MIDISCRIBE_WEBHOOK_TIMEOUT_S", "MIDISCRIBE_MAX_UPLOAD_MB",
                                  "MIDISCRIBE_MAX_URL_DOWNLOAD_MB", "MIDISCRIBE_RETENTION_DAYS",
                                  "MIDISCRIBE_PRESIGN_EXPIRY_S"])
@pytest.mark.parametrize(("value", "words"), [("-5", "must be above 0"), ("0", "must be above 0"),
                                              ("nan", "is not a finite number"), ("inf", "is not a finite number"),
                                              ("soon", "is not a number")])
def test_a_limit_that_is_not_a_number_above_zero_is_refused_naming_the_variable(monkeypatch, name, value, words):
    # MIDISCRIBE_MAX_DURATION_S=-5 refused every transcription as too long; a webhook timeout of 0 failed
    # every delivery. The stack now says so when it starts.
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=f"{name}='{value}' {words}"):
        Settings.from_env()


def test_limits_above_zero_and_unset_ones_are_taken(monkeypatch):
    monkeypatch.setenv("MIDISCRIBE_MAX_DURATION_S", "90.5")
    monkeypatch.delenv("MIDISCRIBE_WEBHOOK_TIMEOUT_S", raising=False)
    settings = Settings.from_env()
    assert settings.max_duration_s == 90.5 and settings.webhook_timeout_s == 15.0
