"""Market research computations checked against hand-computed and analytically known values."""

import math
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from {{ cookiecutter.module_name }} import market

# ---------------------------------------------------------------------------------------------
# Market sizing
# ---------------------------------------------------------------------------------------------

TOP_DOWN = {
    "category_spend": {"low": 800e6, "base": 1e9, "high": 1.2e9, "source": "Category report"},
    "relevant_share": {"low": 0.4, "base": 0.5, "high": 0.5, "source": "Our segment"},
    "serviceable_share": {"low": 0.1, "base": 0.2, "high": 0.3, "source": "Countries we ship to"},
    "attainable_share": {"low": 0.02, "base": 0.05, "high": 0.1, "source": "Peer shares"},
}
BOTTOM_UP = {
    "target_buyers": {"low": 1.5e6, "base": 2e6, "high": 2.5e6, "source": "Census"},
    "purchases_per_year": (2, 3, 4),
    "aov": 50,
    "serviceable_share": 0.4,
    "attainable_share": {"low": 0.04, "base": 0.05, "high": 0.05, "source": "Plan"},
}


def test_top_down_multiplies_the_funnel_at_each_scenario():
    table = market.top_down(**TOP_DOWN)
    # Hand-computed: low 800M x 0.4 = 320M; x 0.1 = 32M; x 0.02 = 640k, and so on.
    expected = pd.DataFrame(
        {
            "low": [320e6, 32e6, 640e3],
            "base": [500e6, 100e6, 5e6],
            "high": [600e6, 180e6, 18e6],
        },
        index=["TAM", "SAM", "SOM"],
    )
    pd.testing.assert_frame_equal(table, expected, check_names=False, rtol=1e-12)


def test_bottom_up_multiplies_buyers_frequency_and_basket():
    table = market.bottom_up(**BOTTOM_UP)
    assert table.loc["TAM"].tolist() == pytest.approx([150e6, 300e6, 500e6], rel=1e-12)
    assert table.loc["SAM"].tolist() == pytest.approx([60e6, 120e6, 200e6], rel=1e-12)
    assert table.loc["SOM"].tolist() == pytest.approx([2.4e6, 6e6, 10e6], rel=1e-12)


def test_market_size_puts_both_approaches_side_by_side():
    table = market.market_size({"top_down": TOP_DOWN, "bottom-up": BOTTOM_UP})
    assert table.loc["SOM", ("top-down", "base")] == pytest.approx(5e6)
    assert table.loc["SOM", ("bottom-up", "base")] == pytest.approx(6e6)
    assert list(table.columns.get_level_values("scenario")) == ["low", "base", "high"] * 2
    inputs = market.sizing_inputs({"bottom_up": BOTTOM_UP})
    assert inputs.set_index("input").loc["target_buyers", "source"] == "Census"
    assert inputs.set_index("input").loc["aov", "source"] == "(no source given)"


def test_tornado_swings_one_input_at_a_time_biggest_first():
    table = market.tornado(TOP_DOWN, approach="top_down")
    # Base SOM 5M; attainable share 0.02..0.1 -> 2M..10M (swing 8M); serviceable 0.1..0.3 ->
    # 2.5M..7.5M (5M); spend 0.8..1.2bn -> 4M..6M (2M); relevant 0.4..0.5 -> 4M..5M (1M).
    assert table["input"].tolist() == [
        "attainable_share",
        "serviceable_share",
        "category_spend",
        "relevant_share",
    ]
    assert table["swing"].tolist() == pytest.approx([8e6, 5e6, 2e6, 1e6], rel=1e-12)
    assert table["som_low"].tolist() == pytest.approx([2e6, 2.5e6, 4e6, 4e6], rel=1e-12)
    assert table["som_base"].unique().tolist() == pytest.approx([5e6])


def test_check_funnel_names_the_violation_and_the_numbers():
    market.check_funnel(100, 100, 0)  # equal is allowed
    with pytest.raises(ValueError, match=r"SAM \(1,200,000\) is larger than TAM \(1,000,000\)"):
        market.check_funnel(1_000_000, 1_200_000, 5_000)
    with pytest.raises(ValueError, match=r"top-down, low: SOM \(60\) is larger than SAM \(50\)"):
        market.check_funnel(100, 50, 60, label="top-down, low")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"low": 0.6, "base": 0.5, "high": 0.7}, "low <= base <= high"),
        (1.5, "share and must lie between 0 and 1"),
        ((0.1, 0.2), "three values"),
        ("lots", "give a number"),
    ],
)
def test_sizing_inputs_are_validated_by_name(value, message):
    with pytest.raises(ValueError, match=message) as error:
        market.top_down(1e9, value, 0.2, 0.05)
    assert "relevant_share" in str(error.value)


def test_sizing_reads_numbers_typed_as_text_in_yaml():
    table = market.top_down("1e9", 0.5, 0.2, 0.05)  # YAML reads 1e9 as text
    assert table.loc["TAM", "base"] == pytest.approx(5e8)


def test_market_size_rejects_unknown_or_missing_inputs():
    with pytest.raises(ValueError, match="missing aov"):
        market.market_size({"bottom_up": {k: v for k, v in BOTTOM_UP.items() if k != "aov"}})
    with pytest.raises(ValueError, match="Unknown market-size approach 'sideways'"):
        market.market_size({"sideways": TOP_DOWN})


# ---------------------------------------------------------------------------------------------
# NPS
# ---------------------------------------------------------------------------------------------

# p_P = 1/2, passives 1/3, p_D = 1/6 (methods.md reference), with one empty answer.
REFERENCE_SCORES = [10, 10, 9, 9, 9, 9, 8, 8, 7, 7, 6, 0, None]


def test_nps_reference_case():
    result = market.nps(REFERENCE_SCORES)
    assert (result.n, result.missing) == (12, 1)
    assert (result.promoters, result.passives, result.detractors) == (6, 4, 2)
    assert result.value == pytest.approx(100 / 3, rel=1e-12)
    assert result.response_variance == pytest.approx(5 / 9, rel=1e-12)
    # Second method: the variance of the +1/0/-1 scores themselves (population variance).
    scored = np.array([1] * 6 + [0] * 4 + [-1] * 2)
    assert result.response_variance == pytest.approx(np.var(scored), rel=1e-12)
    se = 100 * math.sqrt(5 / 9 / 12)
    assert result.se == pytest.approx(se, rel=1e-12)
    assert result.ci_low == pytest.approx(100 / 3 - 1.959963984540054 * se, rel=1e-12)
    assert result.ci_high == pytest.approx(100 / 3 + 1.959963984540054 * se, rel=1e-12)


def test_nps_difference_combines_standard_errors():
    other = [10, 9] + [8, 7, 7] + [6, 5, 3, 0, 2]  # p_P 0.2, p_D 0.5 -> NPS -30, variance 0.61
    diff = market.nps_difference(market.nps(REFERENCE_SCORES), other)
    se_diff = 100 * math.sqrt(5 / 9 / 12 + 0.61 / 10)
    assert diff.difference == pytest.approx(100 / 3 + 30, rel=1e-12)
    assert diff.se == pytest.approx(se_diff, rel=1e-12)
    assert diff.z == pytest.approx((100 / 3 + 30) / se_diff, rel=1e-12)
    assert diff.p_value == pytest.approx(2 * stats.norm.sf(diff.z), rel=1e-9)


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        ([9, 11], r"from 0 to 10.*outside that scale, e.g. 11"),
        ([9, 7.5], r"whole numbers.*7.5"),
        ([9, "ten"], r"not numbers, e.g. 'ten'"),
        ([None, float("nan")], r"No valid respondents.*2 empty"),
        ([], r"No valid respondents"),
    ],
)
def test_nps_rejects_bad_answers_clearly(scores, message):
    with pytest.raises(ValueError, match=message):
        market.nps(scores)


def test_nps_by_segment_matches_hand_counts_and_runs_on_ibis():
    survey = pd.DataFrame(
        {
            "segment": ["new"] * 4 + ["loyal"] * 6 + [None, None],
            "nps": [10, 6, 6, None, 10, 9, 9, 8, 7, 3, 10, 10],
        }
    )
    table = market.nps_by_segment(survey, "segment").set_index("segment")
    # loyal: 3 promoters, 2 passives, 1 detractor of 6 -> 33.3; new: 1 P, 2 D of 3 -> -33.3.
    assert table.loc["loyal", "nps"] == pytest.approx(100 / 3)
    assert table.loc["new", "nps"] == pytest.approx(-100 / 3)
    assert (table.loc["new", "n"], table.loc["new", "missing"]) == (3, 1)
    assert table.loc["(no segment)", "nps"] == pytest.approx(100)
    assert table.index[0] == "loyal"  # largest segment first
    from_engine = market.nps_by_segment(ibis.memtable(survey), "segment")
    pd.testing.assert_frame_equal(from_engine, table.reset_index(), check_dtype=False)


def test_nps_by_segment_reports_the_bad_column():
    survey = pd.DataFrame({"segment": ["a", "b"], "score": [5, 12]})
    with pytest.raises(ValueError, match="'score'.*e.g. 12"):
        market.nps_by_segment(survey, "segment", score_col="score")
    with pytest.raises(ValueError, match=r"lacks the column\(s\) region"):
        market.nps_by_segment(survey, "region", score_col="score")


# ---------------------------------------------------------------------------------------------
# Likert
# ---------------------------------------------------------------------------------------------


def test_top2box_wilson_reference():
    result = market.top2box(81, 263)
    assert result.share == pytest.approx(81 / 263)
    assert (result.ci_low, result.ci_high) == pytest.approx((0.2553, 0.3662), abs=5e-5)


def test_top2box_needs_respondents():
    with pytest.raises(ValueError, match="No valid respondents"):
        market.top2box(0, 0)
    with pytest.raises(ValueError, match="between 0 and n=10"):
        market.top2box(11, 10)


def test_likert_distribution_and_top2box_per_item():
    answers = [5] * 40 + [4] * 41 + [3] * 100 + [2] * 50 + [1] * 32  # 81 of 263 agree
    survey = pd.DataFrame(
        {
            "likert_easy_checkout": answers + [None],
            "likert_fast_delivery": [1, 2, 3, 4, 5, 5, 5, 5, 4, 4] * 26 + [3, 3, 3, None],
            "other": 0,
        }
    )
    dist = market.likert_distribution(survey)
    assert list(dist.index) == ["likert_easy_checkout", "likert_fast_delivery"]
    assert dist.loc["likert_easy_checkout", [1, 2, 3, 4, 5]].tolist() == pytest.approx(
        [32 / 263, 50 / 263, 100 / 263, 41 / 263, 40 / 263]
    )
    assert (dist.loc["likert_easy_checkout", "n"], dist.loc["likert_easy_checkout", "missing"]) == (
        263,
        1,
    )
    top = market.likert_top2box(survey)
    assert top.loc["likert_easy_checkout", "top2"] == 81
    assert top.loc["likert_easy_checkout", ["ci_low", "ci_high"]].tolist() == pytest.approx(
        [0.2553, 0.3662], abs=5e-5
    )


def test_likert_rejects_off_scale_answers():
    with pytest.raises(ValueError, match="'likert_x'.*from 1 to 5.*e.g. 7"):
        market.likert_distribution(pd.DataFrame({"likert_x": [1, 7]}))
    with pytest.raises(ValueError, match="no likert_"):
        market.likert_distribution(pd.DataFrame({"q": [1]}))


def test_diverging_offsets_centre_the_neutral_answer():
    dist = pd.DataFrame([[0.1, 0.2, 0.3, 0.25, 0.15]], columns=[1, 2, 3, 4, 5], index=["item"])
    bars = market.diverging_offsets(dist)
    # Hand-computed: start = -(0.1 + 0.2 + 0.3 / 2) = -0.45.
    assert bars["left"].tolist() == pytest.approx([-0.45, -0.35, -0.15, 0.15, 0.40])
    assert bars["right"].tolist() == pytest.approx([-0.35, -0.15, 0.15, 0.40, 0.55])


# ---------------------------------------------------------------------------------------------
# Van Westendorp
# ---------------------------------------------------------------------------------------------

VW = list(market.VW_COLUMNS)
# Four strictly ordered respondents; curves and crossings worked out by hand (see below).
TINY_VW = pd.DataFrame(
    [(1, 2, 6, 9), (1, 3, 6, 10), (2, 4, 8, 11), (3, 5, 12, 13)], columns=VW, dtype=float
)


def test_van_westendorp_tiny_case_by_hand():
    # Prices 1,2,3,4,5,6,8,...: cheap = 1,1,.75,.5,.25,0 and expensive = 0,0,0,0,0,.5 there, so
    # cheap - expensive goes .25 (p=5) -> -.5 (p=6): IDP = 5 + .25/.75 = 5.3333.
    # too cheap - too expensive is 0 from p=4 to p=8 (.25 at 3, -.25 at 9): OPP = middle = 6.
    # too cheap + cheap - 1 = 0 exactly at p=3: PMC = 3; too expensive + expensive - 1 = 0 at 9.
    result = market.van_westendorp(TINY_VW, min_answers=1)
    assert result.idp == pytest.approx(5 + 1 / 3)
    assert result.opp == pytest.approx(6)
    assert (result.pmc, result.pme) == pytest.approx((3, 9))
    # Narrower: too cheap - expensive is 0 at p=4..5 -> 4.5; too expensive - cheap 0 at 6..8 -> 7.
    narrower = market.van_westendorp(TINY_VW, definition="narrower", min_answers=1)
    assert (narrower.pmc, narrower.pme) == pytest.approx((4.5, 7))
    assert narrower.opp == result.opp and narrower.idp == result.idp
    curves = result.curves.set_index("price")
    assert curves.loc[3.0, "cheap"] == pytest.approx(0.75)
    assert curves.loc[8.0, "expensive"] == pytest.approx(0.75)
    assert curves.loc[2.0, "too_cheap"] == pytest.approx(0.5)
    assert curves.loc[10.0, "too_expensive"] == pytest.approx(0.5)
    assert (result.n_used, result.dropped) == (4, 0)


def test_van_westendorp_drops_and_counts_unusable_respondents():
    extra = pd.DataFrame(
        [(5, 4, 6, 7), (1, 2, 2, 3), (1, None, 3, 4)], columns=VW, dtype=float
    )  # cheap below too cheap; a tie; an empty answer
    result = market.van_westendorp(pd.concat([TINY_VW, extra], ignore_index=True), min_answers=1)
    assert (result.n_used, result.dropped) == (4, 3)
    assert (result.dropped_unordered, result.dropped_missing) == (2, 1)
    assert result.idp == pytest.approx(5 + 1 / 3)


def test_van_westendorp_without_valid_respondents_says_so():
    shuffled = TINY_VW[VW[::-1]].set_axis(VW, axis=1)  # every respondent reversed
    with pytest.raises(ValueError, match="No valid respondents.*4 gave prices that do not rise"):
        market.van_westendorp(shuffled)


# Price point -> the answer columns (0 too cheap .. 3 too expensive) whose curves meet there.
VW_CURVE_PAIRS = {
    "original": {"opp": (0, 3), "idp": (1, 2), "pmc": (0, 1), "pme": (2, 3)},
    "narrower": {"opp": (0, 3), "idp": (1, 2), "pmc": (0, 2), "pme": (1, 3)},
}


@pytest.mark.parametrize("definition", ["original", "narrower"])
def test_van_westendorp_recovers_analytic_crossings(definition):
    # Each answer is exp(mu_k + sigma z) with one z per respondent: answers are ordered, and each
    # column is log-normal with the same sigma. A falling curve P(X_a >= p) meets a rising one
    # P(X_b <= p) where ln p = (mu_a + mu_b) / 2.
    rng = np.random.default_rng(20240601)
    n, sigma = 20_000, 0.5
    mu = np.log([10.0, 15.0, 30.0, 50.0])  # too cheap, cheap, expensive, too expensive
    z = rng.standard_normal(n)
    survey = pd.DataFrame(np.exp(mu[None, :] + sigma * z[:, None]), columns=VW)
    result = market.van_westendorp(survey, definition=definition)
    for point, (a, b) in VW_CURVE_PAIRS[definition].items():
        truth = math.exp((mu[a] + mu[b]) / 2)
        # Sampling error of the crossing: the gap between the curves at the truth has variance
        # 2q/n (two disjoint tails of z, q each) and slope 2 phi(u) / sigma in ln p.
        u = abs(mu[b] - mu[a]) / (2 * sigma)
        q = stats.norm.sf(u)
        sd_log = math.sqrt(2 * q / n) * sigma / (2 * stats.norm.pdf(u))
        assert getattr(result, point) == pytest.approx(truth, rel=5 * sd_log), point
    assert result.n_used == n


def test_van_westendorp_rejects_unknown_definition_and_negative_prices():
    with pytest.raises(ValueError, match="'original' or 'narrower'"):
        market.van_westendorp(TINY_VW, definition="wide")
    negative = TINY_VW.assign(vw_too_cheap=[-1.0, 1, 2, 3])
    with pytest.raises(ValueError, match="'vw_too_cheap' holds negative prices"):
        market.van_westendorp(negative)


# ---------------------------------------------------------------------------------------------
# Competitor price index
# ---------------------------------------------------------------------------------------------

PRODUCTS = pd.DataFrame(
    {"sku": ["A", "B", "C", "D", "E", "F"], "price": [10.0, 20.0, 30.0, 51.0, 50.0, 5.0]}
)
OBSERVATIONS = pd.DataFrame(
    [
        ("A", "c1", 9.0, "2024-01-01"),
        ("A", "c1", 10.0, "2024-02-01"),  # c1's latest price for A
        ("A", "c2", 12.0, "2024-01-15"),
        ("B", "c1", 19.8, "2024-01-05"),
        ("B", "c2", 25.0, "2024-01-05"),
        ("B", "c3", 30.0, "2024-01-05"),
        ("B", "c4", 0.0, "2024-01-06"),  # a broken scrape: ignored
        ("C", "c2", 25.0, "2024-01-05"),
        ("D", "c1", 50.0, "2024-01-05"),  # 51 / 50: exactly +2%, counts as "at"
        ("F", "c1", 20.0, "2024-01-05"),  # index 25: an outlier
        ("Z", "c1", 99.0, "2024-01-05"),  # not our SKU
    ],
    columns=["sku", "competitor", "price", "observed_at"],
).assign(observed_at=lambda d: pd.to_datetime(d["observed_at"]))
REVENUE = {"A": 100.0, "B": 300.0, "C": 100.0, "D": 500.0, "E": 1000.0, "F": 50.0}


def test_price_index_against_cheapest_competitor():
    result = market.price_index(PRODUCTS, OBSERVATIONS, revenue=REVENUE)
    index = result.per_sku["index"]
    # A: min(10, 12) = 10 -> 100; B: 19.8 -> 101.0101; C: 25 -> 120; D: 102; F: 25.
    assert index.to_dict() == pytest.approx(
        {"A": 100.0, "B": 2000 / 19.8, "C": 120.0, "D": 102.0, "F": 25.0}
    )
    positions = result.per_sku["position"].to_dict()
    assert positions == {"A": "at", "B": "at", "C": "above", "D": "at", "F": "below"}
    assert result.unmatched == ["E"]
    assert result.outliers.index.tolist() == ["F"]
    assert result.ignored_observations == 1
    assert result.n_matched == 4
    assert result.median_index == pytest.approx((2000 / 19.8 + 102) / 2)
    # Revenue weights over A-D (100, 300, 100, 500); outlier F and unmatched E are left out.
    weighted = (100 * 100 + 300 * 2000 / 19.8 + 100 * 120 + 500 * 102) / 1000
    assert result.weighted_index == pytest.approx(weighted)
    assert (result.share_above, result.share_at, result.share_below) == pytest.approx(
        (0.25, 0.75, 0.0)
    )


def test_price_index_against_median_competitor_with_equal_weights():
    result = market.price_index(PRODUCTS, ibis.memtable(OBSERVATIONS), reference="median")
    index = result.per_sku["index"]
    # A: median(10, 12) = 11 -> 90.909; B: median(19.8, 25, 30) = 25 -> 80.
    assert index["A"] == pytest.approx(1000 / 11)
    assert index["B"] == pytest.approx(80.0)
    assert result.median_index == pytest.approx((1000 / 11 + 102) / 2)
    assert result.weighted_index == pytest.approx((1000 / 11 + 80 + 120 + 102) / 4)
    assert result.weighting == "equal"
    assert (result.share_above, result.share_at, result.share_below) == pytest.approx(
        (0.25, 0.25, 0.5)
    )


def test_price_index_as_of_uses_the_latest_price_up_to_that_day():
    result = market.price_index(PRODUCTS, OBSERVATIONS, as_of="2024-01-15")
    # A on 15 January: c1 9 (1 Jan; its 1 Feb price is later), cheapest -> 100 x 10 / 9.
    assert result.per_sku.loc["A", "index"] == pytest.approx(1000 / 9)
    assert result.per_sku.loc["A", "position"] == "above"
    # The median needs c2's 12 observed on 15 January itself: 100 x 10 / 10.5.
    median = market.price_index(PRODUCTS, OBSERVATIONS, as_of="2024-01-15", reference="median")
    assert median.per_sku.loc["A", "index"] == pytest.approx(1000 / 10.5)
    exact = market.price_index(
        PRODUCTS, OBSERVATIONS, as_of="2024-01-15 00:00:01", reference="median"
    )
    assert exact.per_sku.loc["A", "index"] == pytest.approx(1000 / 10.5)  # inclusive bound
    early = market.price_index(PRODUCTS, OBSERVATIONS, as_of="2024-01-04")
    assert early.unmatched == ["B", "C", "D", "E", "F"]


def test_price_index_as_of_a_moment_includes_that_moment():
    products = pd.DataFrame({"sku": ["A"], "price": [10.0]})
    prices = pd.DataFrame(
        {
            "sku": ["A", "A"],
            "competitor": ["c1", "c1"],
            "price": [8.0, 12.5],
            "observed_at": pd.to_datetime(["2024-01-01 09:00", "2024-01-02 09:00"], utc=True),
        }
    )
    at_nine = market.price_index(products, prices, as_of=pd.Timestamp("2024-01-02 09:00"))
    assert at_nine.per_sku.loc["A", "index"] == pytest.approx(80.0)
    before = market.price_index(products, prices, as_of="2024-01-02 08:59")
    assert before.per_sku.loc["A", "index"] == pytest.approx(125.0)


def test_price_index_tolerance_band_is_a_parameter():
    result = market.price_index(PRODUCTS, OBSERVATIONS, tolerance=0.01)
    # D is +2% and B is 20 / 19.8 - 1 = +1.0101%: both outside +/-1%; A stays at 0%.
    assert result.per_sku.loc[["A", "B", "D"], "position"].tolist() == ["at", "above", "above"]
    assert result.share_above == pytest.approx(0.75)


def test_price_index_explains_when_nothing_matches():
    with pytest.raises(ValueError, match="None of the 6 products has a competitor price"):
        market.price_index(PRODUCTS, OBSERVATIONS.assign(sku="X"))
    with pytest.raises(ValueError, match="another currency or unit"):
        market.price_index(PRODUCTS, OBSERVATIONS.assign(price=OBSERVATIONS["price"] * 100))


def test_price_index_trend_by_week_and_month():
    products = PRODUCTS.iloc[:2]
    prices = pd.DataFrame(
        [
            ("A", "c1", 10.0, "2024-01-02"),
            ("A", "c1", 8.0, "2024-01-07"),  # a Sunday
            ("B", "c1", 20.0, "2024-01-03"),
            ("A", "c1", 10.0, "2024-01-09"),
            ("B", "c1", 25.0, "2024-01-10"),
        ],
        columns=["sku", "competitor", "price", "observed_at"],
    ).assign(observed_at=lambda d: pd.to_datetime(d["observed_at"]))
    monday = market.price_index_trend(products, prices, week_starts_on="Monday")
    # Week of 1 Jan: A 10/8 -> 125, B 100 -> median 112.5; week of 8 Jan: 100 and 80 -> 90.
    assert monday["period"].tolist() == list(pd.to_datetime(["2024-01-01", "2024-01-08"]))
    assert monday["median_index"].tolist() == pytest.approx([112.5, 90.0])
    sunday = market.price_index_trend(products, prices, week_starts_on="Sunday")
    # The Sunday price now opens the second week: 100 and 100, then 100 and 80.
    assert sunday["period"].tolist() == list(pd.to_datetime(["2023-12-31", "2024-01-07"]))
    assert sunday["median_index"].tolist() == pytest.approx([100.0, 90.0])
    monthly = market.price_index_trend(products, prices, freq="M")
    assert monthly["median_index"].tolist() == pytest.approx([90.0])
    assert monthly["share_below"].tolist() == pytest.approx([0.5])


def test_revenue_by_sku_sums_lines_in_the_engine():
    lines = pd.DataFrame(
        {
            "order_id": ["1", "1", "2"],
            "sku": ["A", "B", "A"],
            "quantity": [2, 1, 3],
            "unit_price": [10.0, 5.0, 9.0],
        }
    )
    revenue = market.revenue_by_sku(ibis.memtable(lines))
    assert revenue.to_dict() == pytest.approx({"A": 47.0, "B": 5.0})


# ---------------------------------------------------------------------------------------------
# Demand trends
# ---------------------------------------------------------------------------------------------

TRENDS_EXPORT = """\ufeffCategory: All categories

Week,running shoes: (United States),trail shoes: (United States)
2024-01-07,75,<1
2024-01-14,100,3
"""


def test_read_trends_csv_tidies_the_export(tmp_path: Path):
    path = tmp_path / "multiTimeline.csv"
    path.write_text(TRENDS_EXPORT, encoding="utf-8")
    tidy = market.read_trends_csv(path)
    assert list(tidy.columns) == ["date", "term", "region", "interest"]
    assert tidy["term"].tolist() == ["running shoes"] * 2 + ["trail shoes"] * 2
    assert set(tidy["region"]) == {"United States"}
    assert tidy["interest"].tolist() == [75.0, 100.0, market.BELOW_ONE_INTEREST, 3.0]
    assert tidy["date"].tolist() == list(pd.to_datetime(["2024-01-07", "2024-01-14"] * 2))


def test_read_trends_csv_rejects_other_files(tmp_path: Path):
    path = tmp_path / "orders.csv"
    path.write_text("order_id,revenue\n1,20\n", encoding="utf-8")
    with pytest.raises(ValueError, match="does not look like a search-trends export"):
        market.read_trends_csv(path)
    bad = tmp_path / "bad.csv"
    bad.write_text("Category: All categories\n\nWeek,shoes: (UK)\n2024-01-07,lots\n")
    with pytest.raises(ValueError, match="not interest scores.*'lots'"):
        market.read_trends_csv(bad)
    bad.write_text("Category: All categories\n\nWeek,shoes: (UK)\n2024-01-07,250\n")
    with pytest.raises(ValueError, match="not interest scores.*'250'"):
        market.read_trends_csv(bad)


# --------------------------------------------------------------------------------------------
# The brief's decision and sentences (docs/decisions.md, Market research, MR-1 to MR-4)
# --------------------------------------------------------------------------------------------

SOURCED = "Industry report 2025, table 3"


def sizing(source: str = SOURCED, **changes) -> dict:
    base = {
        "category_spend": {"low": 40e9, "base": 50e9, "high": 60e9, "source": source},
        "relevant_share": {"low": 0.08, "base": 0.10, "high": 0.12, "source": SOURCED},
        "serviceable_share": {"low": 0.25, "base": 0.30, "high": 0.35, "source": SOURCED},
        "attainable_share": {"low": 0.01, "base": 0.015, "high": 0.02, "source": SOURCED},
        "target_buyers": {"low": 14e6, "base": 16e6, "high": 18e6, "source": SOURCED},
        "purchases_per_year": {"low": 2.5, "base": 3.0, "high": 3.5, "source": SOURCED},
        "aov": {"low": 95, "base": 110, "high": 125, "source": SOURCED},
    }
    base.update(changes)
    shared = ("serviceable_share", "attainable_share")
    return {
        "top_down": {k: base[k] for k in ("category_spend", "relevant_share", *shared)},
        "bottom_up": {k: base[k] for k in ("target_buyers", "purchases_per_year", "aov", *shared)},
    }


def facts_of(params: dict, own_revenue: float = 10e6) -> market.MarketFacts:
    return market.market_facts(
        market.sizing_inputs(params), market.market_size(params), own_revenue, "USD"
    )


@pytest.mark.parametrize(
    ("params", "own_revenue", "verdict", "rule"),
    [
        (sizing("Illustrative: replace me"), 10e6, "draft", "MR-1"),
        (sizing(""), 10e6, "draft", "MR-1"),
        (
            sizing(aov={"low": 300, "base": 330, "high": 360, "source": SOURCED}),
            10e6,
            "hold_reconcile",
            "MR-2",
        ),
        (sizing(), 30e6, "hold_headroom", "MR-3"),
        (sizing(), 10e6, "go", "MR-4"),
    ],
)
def test_every_row_of_the_market_decision_table(params, own_revenue, verdict, rule):
    decision = market.decide(facts_of(params, own_revenue))
    assert (decision.verdict, decision.rule) == (verdict, rule)
    text = decision.to_markdown()
    assert "$" not in text.replace("\\$", ""), "unescaped money would start MathJax"
    if verdict == "draft":
        assert "go" not in decision.label.lower().replace("no go/no-go", "")
        assert "params/market_research.yaml" in decision.next_step


def test_the_literal_money_of_the_old_summary_is_escaped():
    facts = facts_of(sizing())
    sizes = market.market_size(sizing())
    text = market.sizing_findings(facts, sizes, {"top_down": "aov", "bottom_up": "aov"}, 117.0)
    # 50e9 x 0.10 x 0.30 x 0.015 = 22.5M: shown as money, never as the start of a formula
    assert "**\\$22.5M a year**" in text
    assert "$" not in text.replace("\\$", "")


def test_draft_line_names_every_placeholder_and_where_to_replace_it():
    facts = facts_of(sizing("Illustrative: x", aov={"low": 1, "base": 2, "high": 3, "source": ""}))
    assert facts.placeholders == ("category_spend", "aov")
    line = market.draft_line(facts)
    assert line.startswith("**DRAFT")
    assert "category spend per year and average order value" in line
    assert market.draft_line(facts_of(sizing())) is None


def vw_survey(n: int, valid: int) -> pd.DataFrame:
    """n answers of which the first ``valid`` rise from too cheap to too expensive."""
    ordered = np.array([[10.0, 20.0, 30.0, 40.0]])
    rows = np.repeat(ordered, n, axis=0) + np.arange(n)[:, None] * 0.01
    rows[valid:] = rows[valid:, ::-1]  # the rest answer in reverse: not ordered
    return pd.DataFrame(rows, columns=VW)


def test_too_few_valid_price_answers_publish_no_range_and_say_how_many_are_needed():
    vw = market.van_westendorp(vw_survey(1250, 2))
    assert not vw.published and vw.min_answers == market.VW_MIN_ANSWERS == 100
    assert (vw.n_used, vw.dropped) == (2, 1248)
    assert all(math.isnan(v) for v in (vw.opp, vw.idp, vw.pmc, vw.pme))
    subject = market.PriceSubject("Apparel", 27.34, "the parameter")
    text = market.vw_findings(vw, subject)
    assert "No price range is published" in text
    assert "only 2 of 1,250 answers about **Apparel** are valid" in text
    assert "needs at least 100 valid answers" in text and "at least 98 more" in text
    assert "$" not in text
    assert "98 more valid price answers" in market.price_step(vw, subject, 0.0, "USD")
    assert "no range published, 2 valid answers of the 100 needed" in market.price_point(
        vw, subject, 0.0, "USD"
    )
    enough = market.van_westendorp(vw_survey(1250, 100))
    assert enough.published and not math.isnan(enough.opp)


def test_the_price_range_names_the_product_and_todays_price():
    products = pd.DataFrame(
        {
            "sku": ["a1", "a2", "a3", "h1"],
            "name": ["Tee", "Shirt", "Scarf", "Lamp"],
            "category": ["Apparel", "Apparel", "Apparel", "Home"],
            "price": [10.0, 20.0, 60.0, 45.0],
        }
    )
    category = market.price_subject("Apparel", 0.0, products)
    assert (category.today, category.source) == (20.0, "the median price of the 3 Apparel products")
    assert market.price_subject("Lamp", 0.0, products).today == 45.0
    assert market.price_subject("Apparel", 25.0, products).today == 25.0
    assert math.isnan(market.price_subject("", 0.0, products).today)
    vw = market.van_westendorp(
        pd.DataFrame(np.repeat([[10.0, 15.0, 30.0, 50.0]], 200, axis=0), columns=VW)
        + np.linspace(0, 5, 200)[:, None]
    )
    text = market.vw_findings(vw, category, planned_price=100.0)
    assert "for **Apparel**, customers accept prices from **\\$" in text
    assert "Today's price is \\$20.00 (the median price of the 3 Apparel products)" in text
    assert "**outside** the acceptable range" in text
    unnamed = market.vw_findings(vw, market.PriceSubject("", math.nan, ""))
    assert "not named: set `vw_product`" in unnamed and "Today's price is not known" in unnamed
