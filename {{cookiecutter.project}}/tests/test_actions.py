"""One CRM plan: the customer-actions table, rule by rule (docs/decisions.md, CA-1 to CA-4).

Frames are built by hand in the shapes the two reports export, each customer planted for one
rule, so the expected action of every row is known before the function runs.
"""

from __future__ import annotations

import pandas as pd
import pytest

from {{ cookiecutter.module_name }} import actions
from {{ cookiecutter.module_name }}.errors import UserError


def segments() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4", "c5", "c6"],
            "rfm_segment": [
                "Champions",  # c1: at risk, held out -> CA-1
                "Champions",  # c2: at risk, high-value segment -> CA-2 (not "reward")
                "Hibernating",  # c3: at risk, value above the list median -> CA-2
                "Hibernating",  # c4: at risk, low value -> CA-3
                "Champions",  # c5: not at risk -> CA-4 reward
                "Lapsed",  # c6: not at risk -> CA-4 lapsed
            ],
            "cluster": ["A", "A", "B", "B", "A", "C"],
        }
    )


def at_risk(score: str = "churn_probability", holdout=(True, False, False, False)):
    return pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4"],
            score: [0.9, 0.8, 0.7, 0.6],
            "rank": [1, 2, 3, 4],
            "expected_value": [50.0, 10.0, 90.0, 5.0],  # median 30
            "holdout": list(holdout),
        }
    )


EXPECTED = {
    "c1": ("CA-1", actions.HOLDOUT_ACTION),
    "c2": ("CA-2", actions.RETAIN_PERSONAL),
    "c3": ("CA-2", actions.RETAIN_PERSONAL),
    "c4": ("CA-3", actions.RETAIN_REMINDER),
    "c5": ("CA-4", actions.SEGMENT_ACTIONS["Champions"]),
    "c6": ("CA-4", actions.SEGMENT_ACTIONS["Lapsed"]),
}


def by_customer(table: pd.DataFrame) -> dict[str, tuple[str, str]]:
    return {row.customer_id: (row.rule, row.action) for row in table.itertuples()}


@pytest.mark.parametrize("score", ["churn_probability", "score"])
def test_every_rule_of_the_precedence_table(score):
    table = actions.customer_actions(segments(), at_risk(score))
    assert list(table.columns) == list(actions.COLUMNS)
    assert by_customer(table) == EXPECTED
    assert table["customer_id"].is_unique
    # the at-risk list first, by rank; then the others by id
    assert list(table["customer_id"]) == ["c1", "c2", "c3", "c4", "c5", "c6"]
    assert table["on_at_risk_list"].tolist() == [True] * 4 + [False] * 2
    assert table["holdout"].tolist() == [True] + [False] * 5


def test_no_at_risk_champion_is_told_to_be_rewarded_without_discounts():
    table = actions.customer_actions(segments(), at_risk())
    listed = table[table["on_at_risk_list"]]
    assert not (listed["action"] == actions.SEGMENT_ACTIONS["Champions"]).any()


def test_segments_only_gives_each_segment_its_own_action():
    table = actions.customer_actions(segments(), None)
    assert set(table["rule"]) == {"CA-4"}
    for row in table.itertuples():
        assert row.action == actions.SEGMENT_ACTIONS[row.rfm_segment]
    assert not table["holdout"].any()


def test_at_risk_only_still_honours_the_holdout():
    table = actions.customer_actions(None, at_risk())
    # Without segments, value decides CA-2: at or above the list median (30): c1 (held), c3.
    assert by_customer(table) == {
        "c1": ("CA-1", actions.HOLDOUT_ACTION),
        "c2": ("CA-3", actions.RETAIN_REMINDER),
        "c3": ("CA-2", actions.RETAIN_PERSONAL),
        "c4": ("CA-3", actions.RETAIN_REMINDER),
    }


def test_a_customer_only_on_the_churn_list_is_kept():
    risk = at_risk()
    risk.loc[3, "customer_id"] = "c99"
    table = actions.customer_actions(segments(), risk)
    assert len(table) == 7
    assert table.set_index("customer_id").loc["c99", "rule"] == "CA-3"


def test_a_list_from_before_ranks_and_holdouts_is_read_in_file_order_holding_nobody_out():
    legacy = at_risk().drop(columns=["rank", "holdout"]).iloc[::-1].reset_index(drop=True)
    table = actions.customer_actions(segments(), legacy)
    assert table["customer_id"].tolist()[:4] == ["c4", "c3", "c2", "c1"]
    assert not table["holdout"].any()
    assert table.set_index("customer_id").loc["c1", "rule"] == "CA-2"  # a Champion at risk


def test_holdout_flags_as_written_in_a_csv(tmp_path):
    risk = at_risk()
    risk["holdout"] = ["True", "false", "0", "no"]
    table = actions.customer_actions(segments(), risk)
    assert table["holdout"].sum() == 1


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        ("holdout", "lacks the column"),
        ("rank", "lacks the column"),
        ("expected_value", "no expected-value column"),
        ("churn_probability", "no churn score column"),
    ],
)
def test_a_missing_at_risk_column_is_named(drop, message):
    with pytest.raises(UserError, match=message) as error:
        actions.customer_actions(segments(), at_risk().drop(columns=drop))
    assert "Re-run" in str(error.value)


def test_bad_values_are_refused_with_the_column_named():
    risk = at_risk()
    risk["holdout"] = ["maybe", False, False, False]
    with pytest.raises(UserError, match="'holdout' must be true or false"):
        actions.customer_actions(segments(), risk)
    duplicated = pd.concat([segments(), segments().head(1)])
    with pytest.raises(UserError, match="more than once"):
        actions.customer_actions(duplicated, None)
    unknown = segments().assign(rfm_segment="VIP")
    with pytest.raises(UserError, match="no action"):
        actions.customer_actions(unknown, None)
    with pytest.raises(UserError, match="Neither"):
        actions.customer_actions(None, None)


def test_write_customer_actions_reads_what_is_there(tmp_path):
    assert actions.write_customer_actions(tmp_path) is None
    segments().to_parquet(tmp_path / actions.SEGMENTS_FILE, index=False)
    written = actions.write_customer_actions(tmp_path)
    assert written == tmp_path / actions.ACTIONS_FILE
    assert set(pd.read_csv(written)["rule"]) == {"CA-4"}
    at_risk().to_csv(tmp_path / actions.AT_RISK_FILE, index=False)
    table = pd.read_csv(actions.write_customer_actions(tmp_path))
    assert by_customer(table) == EXPECTED
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_failed_write_leaves_the_previous_plan_whole(tmp_path, monkeypatch):
    segments().to_parquet(tmp_path / actions.SEGMENTS_FILE, index=False)
    before = actions.write_customer_actions(tmp_path).read_bytes()
    at_risk().to_csv(tmp_path / actions.AT_RISK_FILE, index=False)

    def broken(self, path, **kwargs):
        path.write_text("half a li")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    with pytest.raises(OSError):
        actions.write_customer_actions(tmp_path)
    assert (tmp_path / actions.ACTIONS_FILE).read_bytes() == before


def test_counts_and_overlap_name_no_customer():
    table = actions.customer_actions(segments(), at_risk())
    counts = actions.action_counts(table)
    assert counts["customers"].sum() == 6
    assert dict(zip(counts["rule"], counts["customers"], strict=False))["CA-2"] == 2
    assert actions.overlap(table) == {"Champions": 2, "Hibernating": 2}
