"""The shared decision value, the decision log and the one as_of convention."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from {{ cookiecutter.module_name }} import data, decision_log, formats, report
from {{ cookiecutter.module_name }}.decisions import Decision
from {{ cookiecutter.module_name }}.errors import UserError

DECISION = Decision("x", "keep_running", "Keep running", "Half the sample.", "Wait 3 days.", "X-1")


def test_a_decision_is_recorded_for_the_summary(monkeypatch, tmp_path):
    monkeypatch.setenv(report.METRICS_ENV, str(tmp_path / "m.json"))
    report.record_decision(DECISION, log_entry={"review_id": "exp-1"})
    kept = report.recorded()
    assert kept[report.DECISION_KEY]["verdict"] == "keep_running"
    assert kept[report.DECISION_LOG_KEY] == [{"review_id": "exp-1"}]
    assert "Rule X-1" in DECISION.to_markdown()


def test_markdown_escape_keeps_money_literal():
    assert formats.md_escape("**$22.5M**") == "\\*\\*\\$22.5M\\*\\*"
    # no MathJax opener (\\( or \\[) and no link from a user's text
    assert formats.md_escape("Tee (blue) [x](y)") == "Tee (blue) &#91;x&#93;(y)"


def test_decision_log_upsert_is_idempotent(tmp_path):
    log = tmp_path / "decision_log.csv"
    row = {"review_id": "exp-1", "verdict": "ship", "measured_effect": 0.05}
    decision_log.upsert([row], log)
    decision_log.upsert([{**row, "verdict": "roll_back"}], log)
    decision_log.upsert([{"review_id": "exp-2", "verdict": "ship"}], log)
    frame = decision_log.read(log)
    assert list(frame["review_id"]) == ["exp-1", "exp-2"]
    assert list(frame["verdict"]) == ["roll_back", "ship"]
    assert list(frame.columns) == list(decision_log.COLUMNS)


def test_decision_log_names_missing_columns(tmp_path):
    log = tmp_path / "decision_log.csv"
    pd.DataFrame({"review_id": ["a"]}).to_csv(log, index=False)
    with pytest.raises(ValueError, match="lacks the column"):
        decision_log.read(log)


@pytest.mark.parametrize("text", ["2031-13-45", "abc", "30/06/2026"])
def test_one_message_for_a_bad_date(text):
    with pytest.raises(UserError, match="YYYY-MM-DD"):
        data.parse_date(text)


def test_empty_and_explicit_as_of_of_the_same_day_agree(sample_dir, monkeypatch):
    monkeypatch.delenv("SHOP_DATA_URL", raising=False)
    con = data.connect(sample_dir)
    implicit = data.analysis_date(con, "")
    explicit = data.analysis_date(con, implicit.day.isoformat())
    assert implicit == explicit
    assert implicit.end - implicit.start_of_day == pd.Timedelta(days=1)
    assert data.analysis_date(con, dt.date(2026, 1, 2)).end == pd.Timestamp("2026-01-03")
