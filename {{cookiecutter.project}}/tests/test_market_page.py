"""The market research page: every table, chart and sentence it shows, branch by branch, on small
hand-built inputs (the statistics themselves are checked in test_market.py)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.module_name }} import data, market
from {{ cookiecutter.module_name }} import market_page as mp
from {{ cookiecutter.module_name }}.decisions import Decision
from {{ cookiecutter.module_name }}.errors import UserError

SOURCED = "Industry report 2025, table 3"
VW = ["vw_too_cheap", "vw_cheap", "vw_expensive", "vw_too_expensive"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def unescaped_dollar(text: str) -> bool:
    return "$" in text.replace("\\$", "")


# --------------------------------------------------------------------------------------------
# Parameters, data and number formats
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("cheapest", 100, 0.0), "vw_definition must be 'original' or 'narrower'"),
        (("original", 0, 0.0), "vw_min_answers must be at least 1"),
        (("narrower", 100, -5.0), "planned_price must be 0 .not set. or a price"),
    ],
)
def test_a_parameter_the_brief_cannot_use_stops_with_a_plain_message(args, message):
    with pytest.raises(UserError, match=message):
        mp.check_parameters(*args)


def test_usable_parameters_pass():
    mp.check_parameters("original", 100, 0.0)
    mp.check_parameters("narrower", 1, 35.0)


def write(folder: Path, **tables: pd.DataFrame) -> None:
    for name, frame in tables.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)


def test_the_survey_is_read_up_to_the_cutoff_and_a_missing_column_is_named(tmp_path):
    write(
        tmp_path,
        survey_responses=pd.DataFrame(
            {
                "response_id": ["r1", "r2", "r3"],
                "responded_at": pd.to_datetime(
                    ["2025-01-01 00:00", "2025-01-31 23:00", "2025-02-01 00:00"]
                ),
                "segment": ["a", "b", "a"],
                "nps": [9, 3, 10],
            }
        ),
    )
    con = data.connect(tmp_path)
    survey = mp.read_survey(con, pd.Timestamp("2025-02-01"), "nps", "segment")
    assert survey["response_id"].tolist() == ["r1", "r2"]
    assert len(mp.read_survey(con, pd.Timestamp("2025-02-01"), "nps", "")) == 2
    with pytest.raises(UserError, match="segment_column is 'tier', but survey_responses has no"):
        mp.read_survey(con, pd.Timestamp("2025-02-01"), "nps", "tier")


def test_our_own_year_is_the_12_months_before_the_cutoff(tmp_path):
    write(
        tmp_path,
        orders=pd.DataFrame(
            {
                "order_id": ["o1", "o2", "o3", "o4"],
                "customer_id": ["c1", "c2", "c1", "c3"],
                "ordered_at": pd.to_datetime(
                    ["2024-01-31 00:00", "2024-02-01 00:00", "2025-01-31 12:00", "2025-02-01 00:00"]
                ),
                "revenue": [1000.0, 100.0, 200.0, 5000.0],
            }
        ),
    )
    year = mp.last_year_orders(data.connect(tmp_path), pd.Timestamp("2025-02-01"))
    review = mp.review_sizing(year, sizing(), "USD")
    assert review.own_revenue == 300.0  # o2 and o3: o1 is older than a year, o4 is after
    assert review.own_aov == 150.0


def test_numbers_read_as_money_shares_or_counts():
    assert mp.input_value("category_spend", 50e9, "USD") == "$50.0B"
    assert mp.input_value("aov", 110, "EUR") == "€110"
    assert mp.input_value("relevant_share", 0.1, "USD") == "10.0%"
    assert mp.input_value("target_buyers", 16e6, "USD") == "16.0M"
    assert mp.short_number(3.0) == "3.0"
    assert mp.short_number(350.0) == "350"
    assert mp.short_number(12_500.0) == "12.5k"
    assert mp.price(math.nan, "USD") == "–" and mp.price(None, "USD") == "–"
    assert mp.price(29.314, "USD") == "$29.31"
    assert mp.item_label("likert_easy_to_find") == "Easy to find"
    assert mp.level(0.9) == "90%"


# --------------------------------------------------------------------------------------------
# Market size
# --------------------------------------------------------------------------------------------


def sizing(source: str = SOURCED, **changes) -> dict:
    inputs = {
        "category_spend": {"low": 40e9, "base": 50e9, "high": 60e9, "source": source},
        "relevant_share": {"low": 0.08, "base": 0.10, "high": 0.12, "source": SOURCED},
        "target_buyers": {"low": 14e6, "base": 16e6, "high": 18e6, "source": SOURCED},
        "purchases_per_year": {"low": 2.5, "base": 3.0, "high": 3.5, "source": SOURCED},
        "aov": {"low": 95, "base": 110, "high": 125, "source": SOURCED},
        "serviceable_share": {"low": 0.25, "base": 0.30, "high": 0.35, "source": SOURCED},
        "attainable_share": {"low": 0.01, "base": 0.015, "high": 0.02, "source": SOURCED},
    }
    inputs.update(changes)
    return mp.sizing_params(**inputs)


def review_of(params: dict | None = None, own_revenue: float = 10e6) -> mp.SizingReview:
    return mp.sizing_review(params or sizing(), own_revenue, 1000, "USD")


def test_the_two_approaches_take_their_own_inputs_and_share_the_two_shares():
    params = sizing()
    assert list(params["top_down"]) == [
        "category_spend",
        "relevant_share",
        "serviceable_share",
        "attainable_share",
    ]
    assert list(params["bottom_up"]) == [
        "target_buyers",
        "purchases_per_year",
        "aov",
        "serviceable_share",
        "attainable_share",
    ]


def test_the_inputs_table_lists_each_input_once_with_its_source():
    shown = mp.inputs_table(review_of()).data
    assert list(shown.columns) == ["Approach", "Input", "Low", "Base", "High", "Source"]
    assert shown["Input"].is_unique and len(shown) == 7
    both = shown[shown["Approach"] == "both"]["Input"].tolist()
    assert both == ["Serviceable share", "Attainable share"]
    spend = shown[shown["Input"] == "Category spend per year"].iloc[0]
    assert (spend["Low"], spend["Base"], spend["High"]) == ("$40.0B", "$50.0B", "$60.0B")
    assert spend["Source"] == SOURCED


def test_the_sizes_table_has_every_approach_and_scenario():
    shown = mp.sizes_table(review_of()).data
    assert shown["Market"].tolist() == ["TAM", "SAM", "SOM"]
    assert "Top-down · base" in shown.columns and "Bottom-up · high" in shown.columns
    som = shown.set_index("Market").loc["SOM", "Top-down · base"]
    assert som == pytest.approx(50e9 * 0.10 * 0.30 * 0.015)


def test_the_size_record_keeps_every_level_and_scenario_of_both_approaches():
    record = mp.size_record(review_of())
    assert set(record) == {"top_down", "bottom_up"}
    assert record["top_down"]["som"]["base"] == pytest.approx(22.5e6)
    assert set(record["bottom_up"]["tam"]) == {"low", "base", "high"}


def test_the_sizing_sentence_is_escaped_money_and_names_the_most_sensitive_input():
    review = review_of()
    assert review.biggest == {"top_down": "attainable_share", "bottom_up": "attainable_share"}
    text = mp.sizing_sentence(review)
    assert "**\\$22.5M a year**" in text and not unescaped_dollar(text)
    assert "most sensitive to the attainable share in both approaches" in text
    assert "DRAFT" not in text
    draft = mp.sizing_sentence(review_of(sizing("Illustrative: replace me")))
    assert "**DRAFT: replace the illustrative inputs before sharing:**" in draft


def test_the_market_bullet_says_whether_the_approaches_agree():
    agree = mp.market_point(review_of())
    assert agree.startswith("**Market:** obtainable market of **\\$22.5M a year** top-down")
    assert "the two approaches agree." in agree and "Our last 12 months: \\$10.0M." in agree
    far_apart = sizing(aov={"low": 300, "base": 330, "high": 360, "source": SOURCED})
    assert "⚠️ the two approaches disagree" in mp.market_point(review_of(far_apart))
    assert not unescaped_dollar(agree)


def test_the_sizing_charts_draw_one_panel_per_level_and_per_approach():
    review = review_of()
    assert [ax.get_title() for ax in mp.size_chart(review).axes] == ["TAM", "SAM", "SOM"]
    titles = [ax.get_title() for ax in mp.tornado_chart(review).axes]
    assert titles[0].startswith("Top-down: SOM if one input moves (base $22.5M)")
    assert titles[1].startswith("Bottom-up:")


# --------------------------------------------------------------------------------------------
# NPS
# --------------------------------------------------------------------------------------------


def answers(**counts: int) -> list[float]:
    """NPS answers by score: answers(s10=5, s0=2) -> five 10s and two 0s."""
    return [float(k[1:]) for k, n in counts.items() for _ in range(n)]


def survey_of(groups: dict[str, list[float]]) -> pd.DataFrame:
    rows = [(g, score) for g, scores in groups.items() for score in scores]
    return pd.DataFrame(rows, columns=["segment", "nps"])


@pytest.mark.parametrize(
    ("scores", "balance"),
    [
        (answers(s10=60, s8=20, s3=20), "clearly more promoters than detractors."),
        (answers(s10=20, s8=20, s3=60), "clearly more detractors than promoters."),
        (answers(s10=40, s8=20, s3=40), "promoters and detractors are roughly balanced."),
    ],
)
def test_the_nps_sentence_reads_the_balance_from_the_interval(scores, balance):
    review = mp.review_nps(pd.DataFrame({"nps": scores}), "nps", "", 0.95)
    text = mp.nps_sentence(review)
    assert text.startswith("**What this means:** overall NPS is **")
    assert text.endswith(balance) and ", 100 answers)" in text
    assert review.gap is None and mp.segment_table(review, "USD") is None
    assert mp.differences_table(review, "USD") is None
    assert mp.nps_point(review).endswith("n = 100).")


def test_blank_answers_are_counted_in_the_sentence():
    scores = answers(s10=60, s8=20, s3=20) + [math.nan] * 4
    text = mp.nps_sentence(mp.review_nps(pd.DataFrame({"nps": scores}), "nps", "", 0.95))
    assert "100 answers, 4 left blank)" in text


def test_a_clear_segment_gap_is_called_real_and_segment_names_are_escaped():
    survey = survey_of(
        {
            "Repeat_buyers*": answers(s10=80, s8=15, s3=5),
            "One-time": answers(s10=20, s8=30, s3=50),
        }
    )
    review = mp.review_nps(survey, "nps", "segment", 0.95)
    text = mp.nps_sentence(review)
    assert "Repeat\\_buyers\\* are the happiest (+75) and One-time the least happy (-30)" in text
    assert "a gap of 105 points" in text and text.endswith("a real difference, not noise.")
    assert mp.nps_point(review).endswith("; One-time trail at -30 vs Repeat\\_buyers\\* at +75.")
    assert mp.nps_record(review) == {
        "value": review.overall.value,
        "ci_low": review.overall.ci_low,
        "ci_high": review.overall.ci_high,
        "n": 200,
    }
    segments = mp.segment_table(review, "USD").data
    assert set(segments["Segment"]) == {"Repeat_buyers*", "One-time"}  # escaped as HTML
    pairs = mp.differences_table(review, "USD").data
    assert len(pairs) == 1 and pairs.iloc[0]["Clear difference"] == "yes"
    assert pairs.iloc[0]["p-value"] == "<0.001"


def test_a_small_segment_gap_is_within_the_noise():
    survey = survey_of({"North": answers(s10=6, s8=2, s3=2), "South": answers(s10=5, s8=3, s3=2)})
    review = mp.review_nps(survey, "nps", "segment", 0.95)
    assert mp.nps_sentence(review).endswith("within the noise of this sample.")
    pairs = mp.differences_table(review, "USD").data
    assert pairs.iloc[0]["Clear difference"] == "no" and pairs.iloc[0]["p-value"] != "<0.001"


def test_one_segment_is_just_the_overall_score_again():
    review = mp.review_nps(survey_of({"All": answers(s10=5, s3=5)}), "nps", "segment", 0.95)
    assert review.by_segment.empty and review.gap is None
    assert mp.nps_chart(review).axes[0].get_title() == "Net Promoter Score"


def test_the_nps_chart_shows_everyone_then_each_segment():
    survey = survey_of({"A": answers(s10=8, s3=2), "B": answers(s10=3, s3=7)})
    fig = mp.nps_chart(mp.review_nps(survey, "nps", "segment", 0.95))
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[0] == mp.OVERALL and set(labels[1:]) == {"A", "B"}  # everyone on top
    assert fig.axes[0].get_title() == "Net Promoter Score, overall and by segment"


# --------------------------------------------------------------------------------------------
# Likert
# --------------------------------------------------------------------------------------------


def likert_survey(**items: list[int]) -> pd.DataFrame:
    return pd.DataFrame({f"likert_{k}": v for k, v in items.items()})


def test_no_likert_columns_means_no_section():
    assert mp.review_likert(pd.DataFrame({"nps": [9]}), [], 0.95) is None
    assert mp.likert_point(None) is None and mp.top2_record(None) == {}
    assert mp.skipped("likert") == (
        "_No Likert items in the survey (no `likert_*` columns): section skipped._"
    )


def test_one_statement_reads_as_its_agreement():
    review = mp.review_likert(likert_survey(value_for_money=[5, 4, 2, 1] * 25), [], 0.95)
    text = mp.likert_sentence(review)
    assert text.startswith("**What this means:** 50% agree with “value for money” (top-2-box")
    assert mp.likert_point(review) == "**Weakest rating:** “value for money”, 50% agree."
    assert mp.top2_table(review, "USD").data["Statement"].tolist() == ["Value for money"]


def test_a_weakest_statement_that_clearly_trails_is_the_thing_to_fix():
    survey = likert_survey(
        delivery_speed=[5] * 90 + [2] * 10,
        value_for_money=[5] * 30 + [2] * 70,
        easy_to_find=[4] * 80 + [1] * 20,
    )
    review = mp.review_likert(survey, [], 0.95)
    assert review.top2.index[0] == "likert_value_for_money"  # weakest first
    text = mp.likert_sentence(review)
    assert "agree most with “delivery speed” (90% top-2-box)" in text
    assert "least with “value for money” (30%, 95% interval" in text
    assert text.endswith("that is the clearest thing to fix.")
    point = mp.likert_point(review)
    assert (
        point == "**Weakest rating:** “value for money”, 30% agree (best: “delivery speed”, 90%)."
    )
    assert list(mp.top2_record(review)) == list(review.top2.index)
    assert len(mp.likert_chart(review).axes[0].patches) > 0


def test_overlapping_weakest_statements_do_not_single_one_out():
    survey = likert_survey(a=[5] * 31 + [2] * 69, b=[5] * 30 + [2] * 70, c=[5] * 90 + [1] * 10)
    text = mp.likert_sentence(mp.review_likert(survey, ["likert_a", "likert_b", "likert_c"], 0.95))
    assert text.endswith(
        "The weakest statements' intervals overlap: no single one clearly stands out."
    )


def test_statement_names_from_the_data_are_escaped():
    survey = likert_survey(**{"price_*fair*": [5, 1] * 10})
    assert "“price \\*fair\\*”" in mp.likert_sentence(mp.review_likert(survey, [], 0.95))


# --------------------------------------------------------------------------------------------
# Price
# --------------------------------------------------------------------------------------------


def vw_answers(n: int, valid: int) -> pd.DataFrame:
    """n answers, the first ``valid`` of them rising from too cheap to too expensive."""
    rows = np.repeat([[10.0, 15.0, 30.0, 50.0]], n, axis=0) + np.linspace(0, 5, n)[:, None]
    rows[valid:] = rows[valid:, ::-1]
    return pd.DataFrame(rows, columns=VW)


def price_review(survey, *, definition="original", planned=0.0, subject=None) -> mp.PriceReview:
    return mp.review_price(
        survey,
        VW,
        definition=definition,
        min_answers=100,
        subject=subject or market.PriceSubject("Apparel", 27.34, "the current_price parameter"),
        planned_price=planned,
        currency="USD",
    )


def test_a_survey_without_price_answers_skips_the_section():
    review = price_review(pd.DataFrame({c: [np.nan, np.nan] for c in VW}))
    assert review.vw is None and mp.price_record(review) is None
    assert mp.price_chart(review) is None
    assert mp.price_sentence(review) == (
        "_No Van Westendorp answers in the survey (the four `vw_*` columns are empty): "
        "section skipped._"
    )


def test_a_misnamed_price_column_still_stops_with_a_message():
    with pytest.raises(ValueError, match="vw_cheap"):
        price_review(vw_answers(200, 200).drop(columns="vw_cheap"))


def test_too_few_valid_answers_publish_no_range_and_no_chart():
    review = price_review(vw_answers(150, 20))
    assert mp.price_record(review) == {
        "opp": None,
        "published": False,
        "n_used": 20,
        "needed": 100,
    }
    assert mp.price_chart(review) is None
    text = mp.price_sentence(review)
    assert text.startswith("**No price range is published:** only 20 of 150 answers about")
    assert "Definition used" not in text


@pytest.mark.parametrize(
    ("definition", "other"), [("original", "narrower"), ("narrower", "original")]
)
def test_a_published_range_names_the_product_todays_price_and_the_definition(definition, other):
    subject = market.PriceSubject("T*shirt", 27.34, "the current_price parameter")
    review = price_review(vw_answers(200, 200), definition=definition, subject=subject)
    text = mp.price_sentence(review)
    assert "for **T\\*shirt**, customers accept prices from **\\$" in text
    assert "Today's price is \\$27.34 (the current_price parameter)" in text
    assert (
        f"Definition used: {mp.DEFINITIONS[definition]}; set `vw_definition` to “{other}”" in text
    )
    assert not unescaped_dollar(text)
    record = mp.price_record(review)
    assert record["published"] and record["definition"] == definition
    assert record["today"] == 27.34 and record["n_used"] == 200
    fig = mp.price_chart(review)
    assert fig.axes[0].get_title() == "Price sensitivity (Van Westendorp): T*shirt"


def test_the_planned_price_is_placed_in_the_sentence_and_the_chart():
    review = price_review(vw_answers(200, 200), planned=500.0)
    assert "Our planned price of \\$500.00 is ⚠️ **outside** the acceptable range." in (
        mp.price_sentence(review)
    )
    labels = [line.get_label() for line in mp.price_chart(review).axes[0].get_lines()]
    assert "planned price $500.00" in labels and "today $27.34" in labels


# --------------------------------------------------------------------------------------------
# Competitors
# --------------------------------------------------------------------------------------------


def index_result(**changes) -> market.PriceIndexResult:
    per_sku = pd.DataFrame(
        {
            "index": [90.0, 100.0, 110.0, 300.0],
            "position": ["below", "at", "above", "above"],
            "outlier": [False, False, False, True],
        },
        index=pd.Index(["a", "b", "c", "d"], name="sku"),
    )
    values = {
        "per_sku": per_sku,
        "median_index": 100.0,
        "weighted_index": 100.0,
        "share_above": 1 / 3,
        "share_at": 1 / 3,
        "share_below": 1 / 3,
        "n_matched": 3,
        "unmatched": [],
        "outliers": per_sku.iloc[:0],
        "reference": "median",
        "tolerance": 0.02,
        "weighting": "equal",
        "outlier_range": (50.0, 200.0),
        "as_of": None,
        "ignored_observations": 0,
    }
    values.update(changes)
    return market.PriceIndexResult(**values)


def competitor_review(index=None, trend=(100.0, 100.5), n_products=4) -> mp.CompetitorReview:
    skus = [f"s{i}" for i in range(n_products)]
    products = pd.DataFrame(
        {"name": skus, "category": "Home", "price": 10.0}, index=pd.Index(skus, name="sku")
    )
    periods = pd.date_range("2025-01-06", periods=len(trend), freq="7D")
    trend = pd.DataFrame({"period": periods, "median_index": list(trend)})
    return mp.CompetitorReview(index or index_result(), trend, products, "W", "USD")


def test_the_competitor_sentence_without_anything_left_out():
    text = mp.competitor_sentence(competitor_review())
    assert text.startswith("**What this means:** on the median product we are **+0.0%**")
    assert "(equal-weight average 100.0, as there is no order_lines table" in text
    assert "Over the 2 periods observed the median index moved +0.5 points (stable)." in text
    assert text.endswith("so it shows how competitors moved.")


def test_the_competitor_sentence_with_revenue_weights_a_move_and_left_out_products():
    index = index_result(
        weighting="revenue",
        weighted_index=104.2,
        median_index=103.7,
        outliers=index_result().per_sku.iloc[3:],
        unmatched=["s1"],
    )
    text = mp.competitor_sentence(competitor_review(index, trend=(100.0, 97.0)))
    assert "**+3.7%** against the competitors' median price (revenue-weighted index 104.2)" in text
    assert "moved -3.0 points. The trend" in text
    assert text.endswith("1 product was set aside as likely mismatches; 1 has no competitor price.")
    one_period = mp.competitor_sentence(competitor_review(trend=(100.0,)))
    assert "Over the 1 period observed the median index moved +0.0 points (stable)." in one_period


def test_several_left_out_products_read_in_the_plural():
    index = index_result(outliers=index_result().per_sku.iloc[1:], unmatched=["s1", "s2"])
    assert mp.competitor_sentence(competitor_review(index)).endswith(
        "3 products were set aside as likely mismatches; 2 have no competitor price."
    )


def test_set_aside_and_unmatched_products_get_a_heading_only_when_there_are_some():
    review = competitor_review()
    assert mp.outliers_sentence(review) is None and mp.outliers_table(review) is None
    assert mp.unmatched_sentence(review) is None and mp.unmatched_table(review) is None
    many = [f"s{i}" for i in range(40)]
    review = competitor_review(index_result(unmatched=many), n_products=50)
    assert mp.unmatched_sentence(review) == (
        "**No competitor price found** for 40 of our 50 products (the first 30 are listed): "
        "add them to the price tracking or confirm nobody else sells them."
    )
    assert len(mp.unmatched_table(review).data) == 30
    few = competitor_review(index_result(unmatched=["s1"]))
    assert "(the first" not in mp.unmatched_sentence(few)


def test_the_position_table_and_bullet():
    review = competitor_review(index_result(median_index=96.5, share_below=0.5))
    shown = mp.position_table(review).data
    assert shown["Position"].tolist() == [
        "Above market (> +2%)",
        "At market (±2%)",
        "Below market (< −2%)",
    ]
    assert shown["Products"].tolist() == [1, 1, 1]  # the outlier is left out
    assert mp.competitor_point(review) == (
        "**Competitors:** we are -3.5% vs the market on the median product; "
        "33% of products dearer, 50% cheaper."
    )
    assert mp.competitor_point(None) is None
    assert mp.competitor_record(review)["n_outliers"] == 0
    assert len(mp.competitor_chart(review).axes) == 2


def test_review_competitors_reads_the_tables_up_to_the_analysis_day(tmp_path):
    write(
        tmp_path,
        products=pd.DataFrame(
            {
                "sku": ["a", "b", "c"],
                "name": ["A", "B", "C"],
                "category": "Home",
                "price": [10.0, 20.0, 30.0],
            }
        ),
        competitor_prices=pd.DataFrame(
            {
                "sku": ["a", "b", "b"],
                "competitor": ["x", "x", "x"],
                "price": [10.0, 20.0, 1.0],
                "observed_at": pd.to_datetime(["2025-01-10", "2025-01-10", "2025-03-01"]),
            }
        ),
    )
    con = data.connect(tmp_path)
    day = data.AnalysisDate(day=pd.Timestamp("2025-01-31").date(), end=pd.Timestamp("2025-02-01"))
    review = mp.review_competitors(
        con, day, None, reference="median", tolerance=0.02, freq="W", currency="USD"
    )
    assert review.index.median_index == 100.0  # the later 1.0 observation is after the day
    assert review.index.unmatched == ["c"]
    assert mp.competitor_record(review)["n_unmatched"] == 1
    assert "for 1 of our 3 products:" in mp.unmatched_sentence(review)


# --------------------------------------------------------------------------------------------
# Demand trends
# --------------------------------------------------------------------------------------------


def trends_frame(term: str, values: list[float], start="2024-01-07") -> pd.DataFrame:
    dates = pd.date_range(start, periods=len(values), freq="7D")
    return pd.DataFrame({"date": dates, "term": term, "region": None, "interest": values})


def test_interest_change_compares_with_a_year_earlier_or_else_the_start():
    two_years = trends_frame("decor", [40.0] * 60 + [60.0] * 45)  # 105 weeks
    short = trends_frame("chairs", [10.0] * 13 + [20.0] * 13)  # 26 weeks
    zero = trends_frame("new", [0.0] * 13 + [5.0] * 13)
    changes = market.interest_change(pd.concat([two_years, short, zero]))
    assert changes["term"].tolist() == ["decor", "chairs", "new"]
    assert changes["basis"].tolist() == ["year_ago", "start", "start"]
    assert changes["change"].iloc[0] == pytest.approx(0.5)
    assert changes["change"].iloc[1] == pytest.approx(1.0)
    assert math.isnan(changes["change"].iloc[2])


def test_the_trends_sentence_names_the_basis_once_or_per_term(tmp_path):
    same = mp.TrendsReview(
        pd.DataFrame(),
        pd.DataFrame(
            {
                "term": ["home *decor*", "chairs"],
                "change": [0.5, 0.0],
                "basis": ["year_ago", "year_ago"],
            }
        ),
    )
    assert mp.trends_sentence(same) == (
        "**What this means:** interest over the last 90 days compared with the same months a "
        "year earlier: “home \\*decor\\*” +50%; “chairs” +0%."
    )
    assert mp.trends_record(same) == {"home *decor*": 0.5, "chairs": 0.0}
    mixed = mp.TrendsReview(
        pd.DataFrame(),
        pd.DataFrame(
            {"term": ["a", "b"], "change": [0.1, math.nan], "basis": ["year_ago", "start"]}
        ),
    )
    assert mp.trends_sentence(mixed) == (
        "**What this means:** interest over the last 90 days: “a” +10% (against the same months "
        "a year earlier); “b” not comparable (no interest earlier) (against the start of the "
        "export)."
    )


def test_a_missing_trends_file_is_a_plain_message_without_the_server_path(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOP_PROJECT_ROOT", str(tmp_path))
    with pytest.raises(UserError) as raised:
        mp.review_trends("data/trends.csv")
    assert "trends_csv is 'data/trends.csv', but there is no such file" in str(raised.value)
    assert str(tmp_path) not in str(raised.value)


def test_review_trends_reads_the_export(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOP_PROJECT_ROOT", str(tmp_path))
    lines = ["Category: All categories", "", "Week,decor: (US)"]
    lines += [
        f"{d:%Y-%m-%d},{40 if i < 60 else 60}"
        for i, d in enumerate(pd.date_range("2024-01-07", periods=105, freq="7D"))
    ]
    (tmp_path / "trends.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    review = mp.review_trends("trends.csv")
    assert mp.trends_record(review) == {"decor": pytest.approx(0.5)}
    assert mp.trends_chart(review).axes[0].get_title() == "Search interest over time"


# --------------------------------------------------------------------------------------------
# Skipped sections and the executive summary
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("section", ["likert", "price", "competitors", "trends"])
def test_a_skipped_section_says_so_in_one_italic_line(section):
    line = mp.skipped(section)
    assert line.startswith("_No ") and line.endswith("._") and "section skipped" in line


def summary_of(params: dict, *, own_revenue=10e6, likert=None, competitors=None, vw_rows=200):
    review = review_of(params, own_revenue)
    nps = mp.review_nps(pd.DataFrame({"nps": answers(s10=6, s8=2, s3=2)}), "nps", "", 0.95)
    price = price_review(vw_answers(vw_rows, vw_rows))
    return review, nps, likert, price, competitors


def test_a_draft_brief_says_so_in_its_title_and_first_line_and_gives_no_go():
    sizing_review, *rest = summary_of(sizing("Illustrative: replace with your industry report"))
    assert mp.summary_title(sizing_review, "Home & *lifestyle*") == (
        "Opportunity brief (DRAFT): Home & \\*lifestyle\\*"
    )
    points = mp.summary_points(sizing_review, *rest)
    assert points[0].startswith("**DRAFT: replace the illustrative inputs before sharing:**")
    assert "category spend per year" in points[0]
    decision = market.decide(sizing_review.facts)
    step = mp.summary_next_step(decision, rest[2])
    assert step.startswith("**Draft: no go/no-go yet:** Replace the illustrative sizing inputs")
    assert "price" not in step.split("re-run the brief")[1]  # no pricing step on a draft
    assert "**Go:**" not in step


def test_a_sourced_brief_has_no_draft_line_and_a_go_carries_the_pricing_step():
    likert = mp.review_likert(likert_survey(a=[5, 2] * 50), [], 0.95)
    parts = summary_of(sizing(), likert=likert, competitors=competitor_review())
    assert mp.summary_title(parts[0], "Shop") == "Opportunity brief: Shop"
    points = mp.summary_points(*parts)
    assert [p.split(":**")[0] for p in points] == [
        "**Market",
        "**Customers",
        "**Weakest rating",
        "**Price (Apparel)",
        "**Competitors",
    ]
    decision = market.decide(parts[0].facts)
    step = mp.summary_next_step(decision, parts[3])
    assert step.startswith("**Go:** Commit the budget; price and fix the weakest rating")
    assert "as the brief says; price for Apparel within \\$" in step and step.endswith(".")
    assert ".;" not in step and not unescaped_dollar(step)


def test_the_summary_leaves_out_the_sections_without_data():
    review, nps, _, _, _ = summary_of(sizing())
    no_price = mp.PriceReview(None, market.PriceSubject("", math.nan, ""), 0.0, "USD")
    points = mp.summary_points(review, nps, None, no_price, None)
    assert [p.split(":**")[0] for p in points] == ["**Market", "**Customers"]
    hold = Decision("market_research", "hold_headroom", "Hold", "r", "Revisit the share.", "MR-3")
    price = price_review(vw_answers(200, 200))
    assert mp.summary_next_step(hold, price) == "**Hold:** Revisit the share."
