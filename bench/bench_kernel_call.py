"""The time of one numpy kernel call on the smallest inputs, where the call's own handling is all of the cost.

Usage::

    python bench/bench_kernel_call.py [--number 20000] [--repeat 7]

Prints best-of-repeat µs per call for relu and sin(z − a)/(z − a)' (two inputs) on 1-element float64 arrays and on
Python floats, with the machine, load and UTC time. To compare two revisions, run it from both checkouts in turn in
one shell (``PYTHONPATH=<checkout>``), twice, so both see the same load.
"""

from __future__ import annotations

import argparse
import datetime
import os
import timeit

import numpy as np
from _machine import machine

import symdl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    relu = symdl.rule("relu").numeric()
    sinc_d = symdl.formula_rule("sin(z - a)/(z - a)", symbols=["a"]).numeric_derivative()
    x, a = np.array([0.5]), np.array([1.5])
    cases = {
        "relu, 1-element array": lambda: relu(x),
        "relu, Python float": lambda: relu(0.5),
        "sinc' (z, a), 1-element arrays": lambda: sinc_d(x, a),
        "sinc' (z, a), Python floats": lambda: sinc_d(0.5, 1.5),
    }
    print(f"{machine()}; load {os.getloadavg()[0]:.2f}; {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
    for label, call in cases.items():
        best = min(timeit.repeat(call, number=args.number, repeat=args.repeat)) / args.number
        print(f"{label}: {best * 1e6:.2f} µs")


if __name__ == "__main__":
    main()
