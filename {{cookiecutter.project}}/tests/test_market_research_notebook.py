"""The market research notebook, run the way the runner runs it (papermill): the default brief,
and the narrower Van Westendorp definition with a planned price and a search-trends export.

Recorded values are checked against numbers computed here from the raw sample tables with plain
pandas (not the package), against the parameter file's inputs multiplied by hand, and against
what the sample generator planted (truth.json).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import execute_notebook, scratch_project

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "market_research.ipynb"

pytestmark = [
    pytest.mark.slow,  # each run starts a kernel and reads the sample shop
    pytest.mark.skipif(
        not NOTEBOOK.is_file(), reason="the market research report is not in this project"
    ),
]


@pytest.fixture(scope="module")
def project(sample_dir, tmp_path_factory) -> Path:
    """A scratch copy of the project whose data/sample is the shared sample shop."""
    return scratch_project(tmp_path_factory.mktemp("market_project"), sample_dir)


def run_notebook(project: Path, monkeypatch, name: str, **parameters) -> dict:
    """Execute the notebook with papermill; return what it recorded."""
    own = yaml.safe_load((project / "params" / "market_research.yaml").read_text("utf-8"))
    parameters = {**own, **parameters}
    return execute_notebook(NOTEBOOK.stem, project, project / f"{name}.ipynb", **parameters)


def write_trends_export(path: Path) -> dict[str, float]:
    """A search-trends export over two years and the change the report should find.

    "home decor" steps from 40 to 60 after week 60, so the last 90 days (60) against the same
    days a year earlier (40) is +50%; "garden chairs" stays at 20 (0%), with a few "<1" weeks at
    the start, outside both windows.
    """
    weeks = pd.date_range("2024-07-07", periods=105, freq="7D")
    decor = np.where(np.arange(105) < 60, 40, 60)
    chairs = ["<1" if i < 3 else "20" for i in range(105)]
    lines = [
        "Category: All categories",
        "",
        "Week,home decor: (United States),garden chairs: (United States)",
    ]
    lines += [f"{w:%Y-%m-%d},{d},{c}" for w, d, c in zip(weeks, decor, chairs, strict=True)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"home decor": 0.5, "garden chairs": 0.0}


@pytest.fixture(scope="module")
def default_run(project):
    with pytest.MonkeyPatch.context() as monkeypatch:
        return run_notebook(project, monkeypatch, "default")


@pytest.fixture(scope="module")
def narrower_run(project):
    trends = project / "trends.csv"
    expected = write_trends_export(trends)
    with pytest.MonkeyPatch.context() as monkeypatch:
        found = run_notebook(
            project,
            monkeypatch,
            "narrower",
            vw_definition="narrower",
            planned_price=29.0,
            trends_csv=str(trends),
        )
    return found, expected


def survey(sample_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(sample_dir / "survey_responses.parquet")


def test_market_size_is_the_parameter_file_multiplied_out(default_run):
    params = yaml.safe_load((ROOT / "params" / "market_research.yaml").read_text("utf-8"))
    base = {name: float(value["base"]) for name, value in params.items() if isinstance(value, dict)}
    tam = base["category_spend"] * base["relevant_share"]
    assert default_run["tam"] == pytest.approx(tam, rel=1e-12)
    assert default_run["sam"] == pytest.approx(tam * base["serviceable_share"], rel=1e-12)
    som = tam * base["serviceable_share"] * base["attainable_share"]
    assert default_run["som"] == pytest.approx(som, rel=1e-12)
    bottom_up = default_run["market_size"]["bottom_up"]
    bu_tam = base["target_buyers"] * base["purchases_per_year"] * base["aov"]
    assert bottom_up["tam"]["base"] == pytest.approx(bu_tam, rel=1e-12)
    for level in ("tam", "sam", "som"):
        for approach in ("top_down", "bottom_up"):
            low, mid, high = (
                default_run["market_size"][approach][level][s] for s in ("low", "base", "high")
            )
            assert low <= mid <= high


def test_nps_is_promoters_minus_detractors_and_covers_the_planted_score(
    default_run, sample_dir, truth
):
    scores = survey(sample_dir)["nps"].dropna()
    expected = 100 * ((scores >= 9).mean() - (scores <= 6).mean())
    found = default_run["nps"]
    assert found["value"] == pytest.approx(expected, rel=1e-12)
    assert found["n"] == len(scores)
    assert found["ci_low"] < found["value"] < found["ci_high"]
    assert found["ci_low"] <= truth["survey"]["nps"]["value"] <= found["ci_high"]


def test_top2box_is_the_share_answering_4_or_5(default_run, sample_dir, truth):
    answers = survey(sample_dir)
    planted = truth["survey"]["top2box"]
    assert set(default_run["top2box"]) == set(planted)
    for item, share in default_run["top2box"].items():
        assert share == pytest.approx((answers[item].dropna() >= 4).mean(), rel=1e-12)
        assert share == pytest.approx(planted[item], abs=0.05)  # about 3.5 SE at n = 1,250


def test_van_westendorp_recovers_the_planted_price_points(default_run, sample_dir, truth):
    prices = survey(sample_dir)[["vw_too_cheap", "vw_cheap", "vw_expensive", "vw_too_expensive"]]
    unordered = int((~(prices.diff(axis=1).iloc[:, 1:] > 0).all(axis=1)).sum())
    found = default_run["van_westendorp"]
    planted = truth["survey"]["van_westendorp"]
    assert found["definition"] == "original"
    assert found["dropped"] == unordered == planted["dropped"]
    assert found["n_used"] == len(prices) - unordered
    for point in ("opp", "idp", "pmc", "pme"):
        assert found[point] == pytest.approx(planted["original"][point], rel=0.05), point
    assert found["pmc"] < found["opp"] < found["pme"]


def test_price_index_matches_a_pandas_recomputation_and_the_planted_median(
    default_run, sample_dir, truth
):
    products = pd.read_parquet(sample_dir / "products.parquet").set_index("sku")["price"]
    observed = pd.read_parquet(sample_dir / "competitor_prices.parquet")
    latest = observed.sort_values("observed_at").groupby(["sku", "competitor"]).tail(1)
    reference = latest.groupby("sku")["price"].median()
    index = 100 * products.reindex(reference.index) / reference
    kept = index[index.between(50, 200)]
    found = default_run["price_index"]
    assert found["reference"] == "median"
    assert found["median"] == pytest.approx(kept.median(), rel=1e-12)
    assert found["median"] == pytest.approx(truth["price_index"]["median"], abs=2)
    assert found["weighting"] == "equal"  # the sample has no order_lines
    assert found["weighted"] == pytest.approx(kept.mean(), rel=1e-12)
    ratio = kept / 100 - 1
    assert found["share_above"] == pytest.approx((ratio > 0.02 + 1e-9).mean(), rel=1e-12)
    assert found["share_below"] == pytest.approx((ratio < -0.02 - 1e-9).mean(), rel=1e-12)
    assert found["n_outliers"] == len(truth["price_index"]["outlier_skus"])
    assert found["n_unmatched"] == len(truth["price_index"]["unmatched_skus"])


def test_narrower_definition_moves_only_the_marginal_points(default_run, narrower_run, truth):
    found, _ = narrower_run
    narrower, original = found["van_westendorp"], default_run["van_westendorp"]
    planted = truth["survey"]["van_westendorp"]["narrower"]
    assert narrower["definition"] == "narrower"
    assert narrower["pmc"] == pytest.approx(planted["pmc"], rel=0.05)
    assert narrower["pme"] == pytest.approx(planted["pme"], rel=0.05)
    # OPP and IDP do not depend on the definition; the narrower range sits inside the original.
    for same in ("opp", "idp", "dropped", "n_used"):
        assert narrower[same] == original[same]
    assert original["pmc"] < narrower["pmc"] < narrower["pme"] < original["pme"]


def test_trends_export_gives_the_change_built_into_it(narrower_run):
    found, expected = narrower_run
    assert found["demand_trend"] == pytest.approx(expected, abs=1e-12)


def test_scenario_illustrative_inputs_give_a_draft_without_go_or_no_go(default_run):
    decision = default_run["decision"]
    assert (decision["verdict"], decision["rule"]) == ("draft", "MR-1")
    assert "params/market_research.yaml" in decision["next_step"]
    assert default_run["van_westendorp"]["published"] is True
    assert default_run["van_westendorp"]["today"] == pytest.approx(27.34)  # Apparel median


def test_scenario_too_few_valid_price_answers_publish_no_range(project, sample_dir):
    found = run_notebook(project, None, "too_few", vw_min_answers=5000)
    vw = found["van_westendorp"]
    assert vw["published"] is False and vw["opp"] is None
    assert vw["needed"] == 5000 and vw["n_used"] < 5000
    page = (project / "too_few.ipynb").read_text(encoding="utf-8")
    assert "No price range is published" in page
    assert "needs at least 5,000 valid answers" in page
