#!/usr/bin/env python3
"""Reference values for Lockstep's ADF kernel (shared/src/stats/adf.rs), from statsmodels.

Generates deterministic series from a 64-bit LCG whose arithmetic is exact and ordered the same
way in the Rust test (`shared/src/stats/adf.rs`, `fn generate`), so no series has to be stored:
the fixture holds only the generator parameters, the windows and statsmodels' answers.

Run (from the repo root):
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install statsmodels numpy
    /tmp/venv/bin/python scripts/adf_reference.py > shared/src/stats/adf_reference.json
"""

import json
import sys
import warnings

import numpy as np
import statsmodels
from statsmodels.tsa.stattools import adfuller

MASK = (1 << 64) - 1


class Lcg:
    """Knuth's MMIX LCG; the top 53 bits give an exact double in [0, 1)."""

    def __init__(self, seed):
        self.state = seed & MASK

    def next_f64(self):
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) & MASK
        return float(self.state >> 11) / 9007199254740992.0


def generate(seed, n, x0, drift, scale, phi):
    """x_t = x0 + drift * t + a_t with a_t = phi * a_{t-1} + scale * e_t.

    e_t = u1 + u2 + u3 + u4 - 2 (a rough bell); with probability 1/32 it is multiplied by 4
    (fat tails). phi = 1 gives a random walk with drift.
    """
    rng = Lcg(seed)
    a = 0.0
    out = []
    for t in range(n):
        e = ((rng.next_f64() + rng.next_f64()) + (rng.next_f64() + rng.next_f64())) - 2.0
        if rng.next_f64() < 0.03125:
            e = e * 4.0
        a = phi * a + scale * e
        out.append(x0 + drift * float(t) + a)
    return out


GENERATORS = [
    # seed, n, x0, drift, scale, phi
    dict(seed=1, n=260, x0=10.3, drift=0.0, scale=0.05, phi=1.0),  # random walk at BTC's log level
    dict(seed=2, n=260, x0=0.5, drift=0.004, scale=0.04, phi=1.0),  # random walk with drift
    dict(seed=3, n=260, x0=-3.0, drift=0.0, scale=0.06, phi=0.7),  # stationary AR(1)
    dict(seed=4, n=260, x0=2.0, drift=-0.01, scale=0.02, phi=0.9),  # trend-stationary
    dict(seed=5, n=260, x0=4.0, drift=0.0, scale=0.08, phi=0.98),  # near unit root
]

WINDOWS = [(0, 60), (37, 60), (100, 60), (200, 60), (5, 30), (11, 45), (20, 100), (0, 260), (150, 17)]
FIXED = [(40, 60, 0), (40, 60, 3), (0, 100, 5), (60, 30, 1)]


def run(series, start, length, regression, maxlag=None):
    """One fixture row: [start, len, regression, adf_lags or null, statistic, used lag, nobs]."""
    x = np.array(series[start : start + length])
    if maxlag is None:
        r = adfuller(x, regression=regression, autolag="AIC", result_object=False)
    else:
        r = adfuller(x, maxlag=maxlag, regression=regression, autolag=None, result_object=False)
    return [start, length, regression, maxlag, float(r[0]), int(r[2]), int(r[3])]


def main():
    warnings.simplefilter("error")
    cases = []
    for g in GENERATORS:
        series = generate(**g)
        windows = []
        for start, length in WINDOWS:
            for regression in ("c", "ct", "n"):
                windows.append(run(series, start, length, regression))
        for start, length, lags in FIXED:
            for regression in ("c", "ct"):
                windows.append(run(series, start, length, regression, lags))
        cases.append(dict(generator=g, windows=windows))
    doc = dict(
        columns=["start", "len", "regression", "adf_lags", "statistic", "used_lag", "nobs"],
        source=f"statsmodels {statsmodels.__version__} adfuller, numpy {np.__version__}; scripts/adf_reference.py",
        cases=cases,
    )
    json.dump(doc, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
