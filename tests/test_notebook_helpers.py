"""The helpers the chapters print their checks with: kink margins, check tables, stable numbers."""

import numpy as np
import pytest

from code_base.gradient_check import error_table, kink_margins
from code_base.vis_utils import Table, stable_format


def test_kink_margins_measure_relu_and_the_pool_gap():
    a = np.array([[1.0, -3.0], [0.5, 2.0]]).reshape(1, 1, 2, 2)
    assert kink_margins(a) == {"relu": 0.5}
    pool = {"pool_height": 2, "pool_width": 2, "stride": 2}
    assert kink_margins(a, pool) == {"relu": 0.5, "pool gap": 1.0}  # window after ReLU: 1, 0, .5, 2
    all_negative = -np.ones((1, 1, 2, 2))
    assert kink_margins(all_negative, pool)["pool gap"] == np.inf  # no gradient to misroute


def test_error_table_asserts_and_shows_the_bound():
    table = error_table([("case a", {"dx": 3e-11, "dw": 2e-9})], bound=1e-8)
    assert table.rows == [["case a", "< 1e-8", "< 1e-8"]]
    assert table.columns == ["case", "dx error", "dw error"]
    with pytest.raises(AssertionError, match="case b: dw relative error 2.00e-07 is not below 1e-08"):
        error_table([("case b", {"dx": 1e-12, "dw": 2e-7})], bound=1e-8)
    with pytest.raises(AssertionError, match="case c"):
        error_table([("case c", {"dx": float("nan")})], bound=1e-8)


def test_table_aligns_numbers_right_in_html_and_markdown():
    table = Table(["name", "acc", "note"], [["a", "0.82", "x"], ["b", "< 1e-8", "y"], ["c", "—", "z"]],
                  caption="Table 1: <demo>")
    html = table._repr_html_()
    assert '<th style="text-align: right">acc</th>' in html
    assert '<td style="text-align: left">x</td>' in html
    assert "<caption>Table 1: &lt;demo&gt;</caption>" in html and "&lt; 1e-8" in html
    assert table._repr_markdown_().splitlines()[1] == "|:---|---:|:---|"
    assert table._repr_markdown_().endswith("Table: Table 1: <demo>")
    assert str(table).splitlines()[1:3] == ["name     acc  note", "a       0.82  x"]
    with pytest.raises(ValueError, match="a row has 2 cells for 3 columns"):
        Table(["a", "b", "c"], [[1, 2]])


def test_stable_format_drops_digits_near_a_rounding_boundary():
    assert stable_format(4.2e-5, rel=1e-9) == "4.2e-05"
    assert stable_format(4.25e-5, rel=1e-3) == "4e-05"  # 4.2 or 4.3 depending on the last bits
    assert stable_format(2.302585, 4, rel=1e-5, spec="f") == "2.3026"
    assert stable_format(0.8250001, 2, rel=1e-3, spec="f") == "0.8"
