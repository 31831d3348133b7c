"""The pure-Python t and normal quantiles agree with SciPy's."""

import math

import pytest
from scipy.special import ndtri, stdtr, stdtrit

from twinsim.core.quantiles import SERIES_DF, normal_quantile, t_quantile, t_two_sided_p

DEGREES = [*range(1, 60), 99, 199, SERIES_DF - 1, SERIES_DF, SERIES_DF + 1, 999, 4999, 10**6]


@pytest.mark.parametrize("p", [0.6, 0.8, 0.9, 0.95, 0.975, 0.99, 0.995])
def test_t_quantiles_match_scipy(p):
    for df in DEGREES:
        assert t_quantile(df, p) == pytest.approx(float(stdtrit(df, p)), rel=1e-12), df
        assert t_quantile(df, 1 - p) == pytest.approx(-float(stdtrit(df, p)), rel=1e-12), df


def test_t_quantile_special_cases_and_errors():
    assert t_quantile(7, 0.5) == 0.0
    assert t_quantile(1, 0.975) == pytest.approx(12.706204736174698, rel=1e-14)  # the Cauchy quantile tan(0.475 pi)
    with pytest.raises(ValueError, match="positive integer"):
        t_quantile(0, 0.975)
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        t_quantile(5, 1.0)


def test_normal_quantiles_match_scipy():
    for p in (1e-9, 0.025, 0.2, 0.5, 0.8, 0.975, 1 - 1e-9):
        assert normal_quantile(p) == pytest.approx(float(ndtri(p)), rel=1e-13, abs=1e-15)


@pytest.mark.parametrize("t", [0.0, 0.3, -1.0, 1.96, 2.5, -4.0, 8.0])
def test_two_sided_p_values_match_scipy(t):
    for df in [1, 2, 3, 4, 5, 9, 10, 39, 79, 199, 999]:
        expected = 2 * float(stdtr(df, -abs(t)))
        assert t_two_sided_p(df, t) == pytest.approx(expected, rel=1e-10, abs=1e-14), df
    assert math.isnan(t_two_sided_p(5, math.nan)) and t_two_sided_p(5, math.inf) == 0.0
