#!/usr/bin/env python3
"""Writes data/expected/spearman.txt, the cases tests/test_spearman.c checks ewq_spearman against: Spearman's
rank correlation (ties get the mean of their ranks) computed with exact fractions, and its two-sided p-value
by the t distribution, p = I_(df/(df+t^2))(df/2, 1/2), with mpmath's regularized incomplete beta function at
50 digits. Developer tool (needs mpmath); run from the repository root:

    python3 tests/gen/make_spearman_expected.py

Each line: n, then the n values of x, the n values of y, rho and p (repr of Python floats), separated by
spaces. The inputs are seeded random draws (some rounded so that ties occur), a perfectly monotone pair
(p = 0 exactly), and a reversed one.
"""
import os
import random
from fractions import Fraction

import mpmath

mpmath.mp.dps = 50


def ranks(v):
    return [Fraction(sum(1 for w in v if w < x)) + Fraction(sum(1 for w in v if w == x) + 1, 2) for x in v]


def spearman(x, y):
    rx, ry = ranks(x), ranks(y)
    n = len(x)
    mean = Fraction(n + 1, 2)
    sxy = sum((a - mean) * (b - mean) for a, b in zip(rx, ry))
    sxx = sum((a - mean) ** 2 for a in rx)
    syy = sum((b - mean) ** 2 for b in ry)
    prod = sxx * syy
    rho = mpmath.mpf(sxy.numerator) / sxy.denominator / mpmath.sqrt(mpmath.mpf(prod.numerator) / prod.denominator)
    if abs(rho) == 1:
        return float(rho), 0.0
    df = n - 2
    t2 = rho * rho * df / (1 - rho * rho)
    p = mpmath.betainc(mpmath.mpf(df) / 2, mpmath.mpf(1) / 2, 0, df / (df + t2), regularized=True)
    return float(rho), float(p)


def main():
    rng = random.Random(14)
    cases = []
    for n, digits in [(3, 6), (5, 6), (8, 1), (12, 6), (30, 6), (30, 1), (80, 6)]:
        x = [round(rng.gauss(0, 1), digits) for _ in range(n)]
        y = [round(xi * rng.uniform(-0.5, 1) + rng.gauss(0, 1), digits) for xi in x]
        cases.append((x, y))
    cases.append(([1.0, 2.0, 3.0, 4.0, 5.0], [0.1, 0.2, 0.3, 0.4, 9.0]))
    cases.append(([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [6.0, 5.0, 4.0, 3.0, 2.0, 1.0]))
    with open(os.path.join("data", "expected", "spearman.txt"), "w") as f:
        for x, y in cases:
            rho, p = spearman(x, y)
            f.write(" ".join([str(len(x))] + [repr(v) for v in x + y] + [repr(rho), repr(p)]) + "\n")


if __name__ == "__main__":
    main()
