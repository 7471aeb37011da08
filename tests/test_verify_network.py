"""symdl.verify.network: the backprop rows of `symdl verify` prove, check and catch planted mistakes."""

import dataclasses

import numpy as np
import pytest

import symdl
from symdl.cli import main
from symdl.network import CompiledNetwork
from symdl.testing import check_network_grad
from symdl.verify.network import (
    MUTANTS,
    NETWORK_CASES,
    verify_backprop_proofs,
    verify_layer_proofs,
    verify_network,
)


@pytest.mark.parametrize(("label", "spec"), NETWORK_CASES, ids=[label for label, _ in NETWORK_CASES])
def test_every_network_case_passes_and_catches_every_mutant(label, spec):
    report = verify_network(label, spec)
    assert report.passed, (report.fd_error, report.mutant_survivors)
    assert report.mutants_killed == report.mutants_total == len(MUTANTS)
    assert 0 < report.fd_error < 1e-6


def test_a_surviving_mutant_fails_the_row(monkeypatch):
    """An equivalent 'mutant' (the equations unchanged) cannot be caught: the row must then fail."""
    import symdl.verify.network as vn

    monkeypatch.setattr(vn, "MUTANTS", (("unchanged", lambda eqs: dataclasses.replace(eqs)),))
    report = vn.verify_network(*NETWORK_CASES[0])
    assert report.mutant_survivors == ["unchanged"] and not report.passed


def test_each_mutant_changes_the_gradient():
    network = symdl.Network(**NETWORK_CASES[0][1])
    net = network.compile()
    rng = np.random.default_rng(0)
    params, X, Y = net.init(0), rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    _, right = net.loss_and_grad(params, X, Y)
    for name, mutate in MUTANTS:
        mutant = CompiledNetwork(network, net.dtype, mutate(network._equations(output_form=True)))
        _, wrong = mutant.loss_and_grad(params, X, Y)
        assert any(not np.allclose(right[k], wrong[k]) for k in right), name
        assert not check_network_grad(mutant, params, X, Y).passed, name


def test_the_backprop_proofs_hold():
    reports = verify_backprop_proofs()
    assert all(r.proven for r in reports)
    symbolic = reports[0].proofs
    assert sum("of 3:" in label for label in symbolic) == 6  # w and b of each of three layers
    assert "induction step (BP2 extends to any depth)" in symbolic


def test_cli_verify_networks(capsys):
    assert main(["verify", "networks", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "backprop BP1-BP4 symbolic widths" in out and "network relu/softmax_ce" in out
    assert "3/3" in out and "graph formula layers (notebook)" in out
    assert out.splitlines()[-1] == "0 rules, 16 other rows: 16 passed, 0 failed"


def test_the_batchnorm_dropout_and_initialisation_proofs_hold():
    reports = verify_layer_proofs()
    assert [r.name for r in reports] == ["batch norm proofs", "dropout proofs", "initialisation proofs"]
    assert all(r.proven and r.proofs for r in reports)
