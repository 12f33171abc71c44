"""The re-solved LP of the interval audit: answers, unbounded cases, and a quiet solver."""

import subprocess
import sys

import numpy as np
from scipy import sparse

from registry.stats.sdc.lp import LpModel


def _pair() -> LpModel:
    # x0 + x1 = 10, 0 <= x0 <= 7, x1 unbounded above
    return LpModel(sparse.csr_matrix([[1.0, 1.0]]), np.array([10.0]), np.array([7.0, np.inf]))


def test_each_objective_is_solved_again_from_the_same_model():
    lp = _pair()
    assert np.allclose(lp.minimize(np.array([1.0, 0.0])), [0.0, 10.0])
    assert np.allclose(lp.minimize(np.array([-1.0, 0.0])), [7.0, 3.0])
    lp.set_upper(0, 4.0)
    assert np.allclose(lp.minimize(np.array([-1.0, 0.0])), [4.0, 6.0])
    assert lp.solves == 3


def test_an_unbounded_objective_gives_none():
    lp = LpModel(sparse.csr_matrix([[1.0, -1.0]]), np.array([0.0]), np.array([np.inf, np.inf]))
    assert lp.minimize(np.array([-1.0, 0.0])) is None


def test_the_solver_prints_nothing_to_stdout():
    # stdout carries the JSON access log and the CLI's JSON answers: a banner would break both.
    code = (
        "import numpy as np; from scipy import sparse; from registry.stats.sdc.lp import LpModel;"
        "LpModel(sparse.csr_matrix([[1.0, 1.0]]), np.array([10.0]),"
        " np.array([7.0, np.inf])).minimize(np.array([1.0, 0.0]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == ""
