"""The one channel for problems a user can fix: its shared messages."""

from __future__ import annotations

import pytest

from {{ cookiecutter.module_name }} import errors


def test_a_missing_column_is_named_with_what_the_table_has_and_what_to_do():
    with pytest.raises(errors.UserError) as caught:
        errors.require_table_columns("orders", ["order_id", "ordered_at"], ["order_id", "revenue"])
    message = str(caught.value)
    assert message.startswith("The orders table lacks the column(s) revenue; it has order_id, ")
    assert message.endswith(f"`python -m {errors.__package__} contract`).")
    errors.require_columns(["a", "b"], ["b"], "The list", "Re-run it.")  # nothing missing


def test_every_problem_is_listed_once_in_one_error():
    one = errors.problem_list("backlog.csv", ["line 2, reach: empty"])
    assert str(one) == (
        "backlog.csv has 1 problem; fix it and run the report again:\n- line 2, reach: empty"
    )
    two = errors.problem_list("backlog.csv", ["line 2: x", "line 3: y"])
    assert str(two).startswith("backlog.csv has 2 problems; fix them and")
    assert str(two).count("\n- ") == 2
