"""Scoring, exactly: weighted subtotals and totals, evaluation problems (all at once), means
rounded half up, medians rounded down, divergence limits and consolidation. Pure, no
database: these run once."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from facility.calls.grids import prag_concept_note_grid, prag_full_application_grid
from facility.evaluation.scoring import (
    MARKERS,
    Submitted,
    consolidate,
    divergence_limit,
    evaluation_problems,
    mean,
    median_rounded_down,
    spread,
    weighted,
)
from tests.factories import full_evaluation

D = Decimal
FULL = prag_full_application_grid()
CONCEPT = prag_concept_note_grid()


def _all(grid: dict[str, Any], level: int) -> dict[str, int]:
    return {c["id"]: level for c in grid["criteria"]}


def _problems(grid: dict[str, Any], ev: dict[str, Any], *, final: bool) -> set[tuple[Any, ...]]:
    return {(e.loc, e.code) for e in evaluation_problems(grid, ev, final=final)}


def _submitted(grid: dict[str, Any], scores: dict[str, int], markers: int = 1) -> Submitted:
    w = weighted(grid, scores)
    return Submitted(w.sections, w.total, dict.fromkeys(MARKERS, markers))


def _with_section(
    grid: dict[str, Any], level: int, section: str, section_scores: list[int]
) -> dict[str, int]:
    """All criteria at ``level`` except the section's, given in grid order."""
    scores = _all(grid, level)
    ids = [c["id"] for c in grid["criteria"] if c["section"] == section]
    assert len(ids) == len(section_scores)
    scores.update(zip(ids, section_scores, strict=True))
    return scores


# --- weighted ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "sections", "total"),
    [
        (4, {"capacity": "16.00", "relevance": "24.00", "effectiveness": "16.00",
             "sustainability": "12.00", "budget": "12.00"}, "80.00"),
        (5, {"capacity": "20.00", "relevance": "30.00", "effectiveness": "20.00",
             "sustainability": "15.00", "budget": "15.00"}, "100.00"),
        (1, {"capacity": "4.00", "relevance": "6.00", "effectiveness": "4.00",
             "sustainability": "3.00", "budget": "3.00"}, "20.00"),
        (3, {"capacity": "12.00", "relevance": "18.00", "effectiveness": "12.00",
             "sustainability": "9.00", "budget": "9.00"}, "60.00"),
    ],
)  # fmt: skip
def test_full_application_grid_subtotals_and_total(
    level: int, sections: dict[str, str], total: str
) -> None:
    w = weighted(FULL, _all(FULL, level))
    assert {k: str(v) for k, v in w.sections.items()} == sections
    assert str(w.total) == total


@pytest.mark.parametrize(
    ("level", "relevance", "design", "total"),
    [(4, "24.00", "16.00", "40.00"), (5, "30.00", "20.00", "50.00"), (1, "6.00", "4.00", "10.00")],
)
def test_concept_note_grid_subtotals_and_total(
    level: int, relevance: str, design: str, total: str
) -> None:
    w = weighted(CONCEPT, _all(CONCEPT, level))
    assert {k: str(v) for k, v in w.sections.items()} == {"relevance": relevance, "design": design}
    assert str(w.total) == total


def test_mixed_scores_respect_each_criterion_weight() -> None:
    scores = _all(FULL, 3)
    scores.update({"2.1": 5, "2.2": 1, "5.2": 4, "1.1": 2})  # weights 2, 2, 2, 1
    w = weighted(FULL, scores)
    assert w.sections["relevance"] == D("18.00")  # 10 + 2 + 3 + 3
    assert w.sections["budget"] == D("11.00")  # 3 + 8
    assert w.sections["capacity"] == D("11.00")  # 2 + 3 + 3 + 3
    assert w.total == D("11") + D("18") + D("12") + D("9") + D("11") == D("61.00")


def test_decimal_weights_are_exact() -> None:
    def criterion(cid: str, section: str, weight: str) -> dict[str, Any]:
        return {"id": cid, "label": cid.upper(), "section": section,
                "min_score": 0, "max_score": 5, "weight": weight}  # fmt: skip

    grid: dict[str, Any] = {
        "sections": [{"id": "a", "label": "A", "threshold": None},
                     {"id": "b", "label": "B", "threshold": None}],
        "criteria": [criterion("a1", "a", "1.5"), criterion("a2", "a", "0.25"),
                     criterion("b1", "b", "2.75"), criterion("b2", "b", "0.1")],
        "pass_mark": "10",
    }  # fmt: skip
    w = weighted(grid, {"a1": 3, "a2": 5, "b1": 4, "b2": 3})
    assert w.sections == {"a": D("5.75"), "b": D("11.30")}  # 4.5 + 1.25; 11 + 0.3
    assert w.total == D("17.05")
    assert str(w.total) == "17.05"
    # A float weight is read through its shortest repr, never its binary expansion.
    grid["criteria"][3]["weight"] = 0.1
    assert weighted(grid, {"b2": 3}).sections["b"] == D("0.30")


def test_draft_scores_leave_missing_criteria_out_and_ignore_unknown_ones() -> None:
    w = weighted(FULL, {"1.1": 5, "2.1": 5, "9.9": 5})
    assert w.sections["capacity"] == D("5.00")
    assert w.sections["relevance"] == D("10.00")
    assert w.sections["budget"] == D("0.00")
    assert w.total == D("15.00")
    assert weighted(FULL, {}).total == D("0.00")


# --- evaluation_problems ----------------------------------------------------------------


def test_a_complete_evaluation_has_no_problems() -> None:
    for grid in (FULL, CONCEPT):
        assert evaluation_problems(grid, full_evaluation(grid, 4), final=True) == []
        assert evaluation_problems(grid, full_evaluation(grid, 4), final=False) == []


def test_boundaries_of_each_criterion_range_are_accepted() -> None:
    assert evaluation_problems(FULL, full_evaluation(FULL, 1), final=True) == []
    assert evaluation_problems(FULL, full_evaluation(FULL, 5), final=True) == []


def test_zero_markers_and_an_unconfirmed_priority_are_answers_not_gaps() -> None:
    ev = full_evaluation(
        FULL, 4, gender_marker=0, climate_adaptation_marker=0, climate_mitigation_marker=0,
        primary_priority_confirmed=False,
    )  # fmt: skip
    assert evaluation_problems(FULL, ev, final=True) == []


def test_draft_lists_every_unknown_and_out_of_range_score_and_unknown_section() -> None:
    ev = {
        "scores": {"1.1": 0, "1.2": 6, "2.1": 5, "9.9": 3, "x": 1},
        "section_comments": {"capacity": "ok", "ethics": "??", "other": "!"},
    }
    problems = _problems(FULL, ev, final=False)
    assert problems == {
        (("scores", "1.1"), "out_of_range"),
        (("scores", "1.2"), "out_of_range"),
        (("scores", "9.9"), "unknown"),
        (("scores", "x"), "unknown"),
        (("section_comments", "ethics"), "unknown"),
        (("section_comments", "other"), "unknown"),
    }
    # Nothing is missing in a draft.
    assert _problems(FULL, {}, final=False) == set()


def test_final_lists_everything_missing_at_once() -> None:
    problems = _problems(FULL, {}, final=True)
    expected = (
        {(("scores", c["id"]), "required") for c in FULL["criteria"]}
        | {(("section_comments", s["id"]), "required") for s in FULL["sections"]}
        | {((m,), "required") for m in MARKERS}
        | {((j,), "required") for j in (
            "gender_justification", "climate_adaptation_justification",
            "climate_mitigation_justification")}
        | {(("primary_priority_confirmed",), "required")}
        | {((n,), "required") for n in ("strengths", "weaknesses", "recommendation")}
    )  # fmt: skip
    assert problems == expected
    assert len(evaluation_problems(FULL, {}, final=True)) == 17 + 5 + 3 + 3 + 1 + 3


def test_final_reports_wrong_and_missing_together() -> None:
    ev = full_evaluation(FULL, 4)
    del ev["scores"]["3.3"]
    del ev["scores"]["5.1"]
    ev["scores"]["1.1"] = 9
    ev["scores"]["7.7"] = 2
    ev["section_comments"] = {"capacity": "Fine.", "relevance": "   ", "bogus": "x"}
    ev["gender_marker"] = None
    ev["climate_mitigation_justification"] = "  \n "
    ev["primary_priority_confirmed"] = None
    ev["strengths"] = ""
    ev["weaknesses"] = None
    del ev["recommendation"]
    problems = _problems(FULL, ev, final=True)
    assert problems == {
        (("scores", "1.1"), "out_of_range"),
        (("scores", "7.7"), "unknown"),
        (("scores", "3.3"), "required"),
        (("scores", "5.1"), "required"),
        (("section_comments", "bogus"), "unknown"),
        (("section_comments", "relevance"), "required"),
        (("section_comments", "effectiveness"), "required"),
        (("section_comments", "sustainability"), "required"),
        (("section_comments", "budget"), "required"),
        (("gender_marker",), "required"),
        (("climate_mitigation_justification",), "required"),
        (("primary_priority_confirmed",), "required"),
        (("strengths",), "required"),
        (("weaknesses",), "required"),
        (("recommendation",), "required"),
    }


def test_out_of_range_detail_names_the_range_and_the_score() -> None:
    [err] = evaluation_problems(FULL, {"scores": {"2.1": 7}}, final=False)
    assert "1" in err.detail and "5" in err.detail and "7" in err.detail


# --- mean, median, divergence -----------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["70", "71", "71"], "70.67"),
        (["70", "70", "71"], "70.33"),
        (["80", "60"], "70.00"),
        (["0.005"], "0.01"),
        (["0.004", "0.006"], "0.01"),  # exactly 0.005: half up
        (["0.00", "0.01"], "0.01"),  # 0.005
        (["1.00", "1.01"], "1.01"),  # 1.005
        (["2.00", "2.01"], "2.01"),  # 2.005 (half-even would give 2.00)
        (["0.0049"], "0.00"),
        (["12.345"], "12.35"),
        (["12.344999"], "12.34"),
        (["0", "0", "0.01"], "0.00"),  # 0.00333...
        (["0", "0.01", "0.01"], "0.01"),  # 0.00666...
        (["33.33", "33.33", "33.34"], "33.33"),
        (["50"], "50.00"),
    ],
)
def test_mean_rounds_half_up_to_two_decimals(values: list[str], expected: str) -> None:
    got = mean([D(v) for v in values])
    assert str(got) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1, 2], 1),
        ([0, 2], 1),
        ([2, 2, 1], 2),
        ([0, 1, 2, 2], 1),
        ([2, 1], 1),
        ([0, 1], 0),
        ([2], 2),
        ([0], 0),
        ([2, 0, 1], 1),
        ([2, 2], 2),
        ([0, 0, 2, 2], 1),
        ([1, 2, 2, 2], 2),
    ],
)
def test_median_rounded_down(values: list[int], expected: int) -> None:
    assert median_rounded_down(values) == expected


def test_median_does_not_reorder_its_argument() -> None:
    values = [2, 0, 1]
    median_rounded_down(values)
    assert values == [2, 0, 1]


@pytest.mark.parametrize(
    ("grid", "pct", "expected"),
    [
        (FULL, "20", "20.00"),
        (CONCEPT, "20", "10.00"),
        (FULL, "15.5", "15.50"),
        (CONCEPT, "12.5", "6.25"),
        (CONCEPT, "0.01", "0.01"),  # 0.005 rounds half up
        (FULL, "33.333", "33.33"),
        (FULL, "0", "0.00"),
        (FULL, "100", "100.00"),
    ],
)
def test_divergence_limit_in_points_of_the_grid(
    grid: dict[str, Any], pct: str, expected: str
) -> None:
    assert str(divergence_limit(grid, D(pct))) == expected


def test_spread_is_the_range_of_the_totals() -> None:
    assert spread([D("80.00"), D("55.50"), D("70.00")]) == D("24.50")
    assert spread([D("60.00")]) == D("0.00")


# --- consolidate ------------------------------------------------------------------------


def test_consolidate_means_each_section_and_the_total() -> None:
    a = _submitted(FULL, _all(FULL, 4), markers=1)
    b = _submitted(FULL, _all(FULL, 3), markers=2)
    c = consolidate(FULL, [a, b])
    assert {k: str(v) for k, v in c.sections.items()} == {
        "capacity": "14.00", "relevance": "21.00", "effectiveness": "14.00",
        "sustainability": "10.50", "budget": "10.50",
    }  # fmt: skip
    assert c.total == D("70.00")
    assert c.spread == D("20.00")
    assert c.count == 2
    assert c.markers == dict.fromkeys(MARKERS, 1)  # median of 1 and 2, rounded down
    assert c.reasons == [] and c.passed is True
    assert c.breakdown() == {
        "sections": {k: str(v) for k, v in c.sections.items()},
        "total": "70.00",
        "markers": dict.fromkeys(MARKERS, 1),
        "labels": {s["id"]: s["label"] for s in FULL["sections"]},  # for the applicant's letter
    }


def test_consolidate_rounds_the_mean_of_the_totals_half_up() -> None:
    evs = [
        Submitted({"relevance": D(35), "design": D(35)}, D(70), dict.fromkeys(MARKERS, 0)),
        Submitted({"relevance": D(36), "design": D(35)}, D(71), dict.fromkeys(MARKERS, 1)),
        Submitted({"relevance": D(36), "design": D(35)}, D(71), dict.fromkeys(MARKERS, 2)),
    ]
    c = consolidate(CONCEPT, evs)
    assert c.total == D("70.67")
    assert c.sections == {"relevance": D("35.67"), "design": D("35.00")}
    assert c.markers == dict.fromkeys(MARKERS, 1)
    assert c.spread == D(1)


def test_markers_are_consolidated_separately() -> None:
    first = {"gender_marker": 2, "climate_adaptation_marker": 0, "climate_mitigation_marker": 1}
    second = {"gender_marker": 1, "climate_adaptation_marker": 2, "climate_mitigation_marker": 1}
    evs = [
        Submitted({"relevance": D(20), "design": D(10)}, D(30), first),
        Submitted({"relevance": D(20), "design": D(10)}, D(30), second),
    ]
    c = consolidate(CONCEPT, evs)
    assert c.markers == {
        "gender_marker": 1, "climate_adaptation_marker": 1, "climate_mitigation_marker": 1
    }  # fmt: skip


def test_a_section_below_its_threshold_gives_a_reason_with_the_numbers() -> None:
    # Capacity subtotals 12 and 11: mean 11.50 < 12; the total (75.50) passes.
    a = _submitted(FULL, _with_section(FULL, 4, "capacity", [3, 3, 3, 3]))
    b = _submitted(FULL, _with_section(FULL, 4, "capacity", [2, 3, 3, 3]))
    c = consolidate(FULL, [a, b])
    assert c.sections["capacity"] == D("11.50")
    assert c.total == D("75.50")
    assert c.passed is False
    [reason] = c.reasons
    assert "11.50" in reason and "12" in reason
    assert "capacity" in reason.lower()


def test_the_total_below_the_pass_mark_gives_a_reason_with_the_numbers() -> None:
    grid = prag_full_application_grid(pass_mark=65)
    a = _submitted(grid, _all(grid, 3))  # 60, capacity 12
    b = _submitted(grid, _with_section(grid, 3, "relevance", [3, 3, 4, 4]))  # 62
    c = consolidate(grid, [a, b])
    assert c.total == D("61.00")
    [reason] = c.reasons
    assert "61.00" in reason and "65" in reason


def test_every_failure_is_a_reason() -> None:
    a = _submitted(FULL, _all(FULL, 2))  # capacity 8, total 40
    b = _submitted(FULL, _all(FULL, 2))
    c = consolidate(FULL, [a, b])
    assert len(c.reasons) == 2
    assert any("8.00" in r and "12" in r for r in c.reasons)
    assert any("40.00" in r and "50" in r for r in c.reasons)


def test_exactly_at_the_threshold_and_the_pass_mark_passes() -> None:
    # Capacity exactly 12, total exactly 50.
    scores = _all(FULL, 2)
    scores.update(
        {c["id"]: 3 for c in FULL["criteria"] if c["section"] in ("capacity", "relevance")}
    )
    w = weighted(FULL, scores)
    assert (w.sections["capacity"], w.total) == (D("12.00"), D("50.00"))  # 12 + 18 + 8 + 6 + 6
    c = consolidate(FULL, [_submitted(FULL, scores), _submitted(FULL, scores)])
    assert c.sections["capacity"] == D("12.00") and c.total == D("50.00")
    assert c.reasons == [] and c.passed
    # One point less anywhere in capacity fails both rules.
    lower = {**scores, "1.1": 2}
    c = consolidate(FULL, [_submitted(FULL, scores), _submitted(FULL, lower)])
    assert c.sections["capacity"] == D("11.50") and c.total == D("49.50")
    assert len(c.reasons) == 2


def test_exactly_at_threshold_50_with_two_evaluators_straddling_it() -> None:
    a = Submitted({"relevance": D(20), "design": D(11)}, D(31), dict.fromkeys(MARKERS, 0))
    b = Submitted({"relevance": D(19), "design": D(10)}, D(29), dict.fromkeys(MARKERS, 0))
    c = consolidate(CONCEPT, [a, b])  # pass mark 30
    assert c.total == D("30.00") and c.passed


def test_thresholds_are_compared_with_the_rounded_means() -> None:
    grid = prag_concept_note_grid()
    grid["sections"][0]["threshold"] = "20.67"
    grid["pass_mark"] = "30.67"
    evs = [
        Submitted({"relevance": D(20), "design": D(10)}, D(30), dict.fromkeys(MARKERS, 0)),
        Submitted({"relevance": D(21), "design": D(10)}, D(31), dict.fromkeys(MARKERS, 0)),
        Submitted({"relevance": D(21), "design": D(10)}, D(31), dict.fromkeys(MARKERS, 0)),
    ]
    c = consolidate(grid, evs)  # 20.666... and 30.666... round to 20.67 and 30.67
    assert c.sections["relevance"] == D("20.67") and c.total == D("30.67")
    assert c.reasons == []
    grid["sections"][0]["threshold"] = "20.68"
    grid["pass_mark"] = "30.68"
    c = consolidate(grid, evs)
    assert len(c.reasons) == 2
    assert any("20.67" in r and "20.68" in r for r in c.reasons)
    assert any("30.67" in r and "30.68" in r for r in c.reasons)


def test_sections_without_a_threshold_never_fail() -> None:
    a = _submitted(CONCEPT, _all(CONCEPT, 1))  # 10
    c = consolidate(prag_concept_note_grid(), [a])
    assert c.total == D("10.00")
    [reason] = c.reasons  # only the pass mark
    assert "10.00" in reason and "30" in reason


def test_consolidating_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="nothing to consolidate"):
        consolidate(FULL, [])
