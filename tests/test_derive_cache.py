"""`symdl derive` keeps its proofs in the verify disk cache: hits, invalidation, --no-cache, corrupt entries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sympy as sp

import symdl.verify.cache as cache_module
from symdl.cli import main
from symdl.rulebook import registry
from symdl.rulebook.definition import Definition
from symdl.rulebook.rule import Rule
from symdl.verify.cache import FORMAT, cache_dir

_SCALE = {"value": 2, "claimed": 2}


def _scaled_builder() -> Definition:
    """a rule whose definition the tests change: value·z, with the textbook derivative it claims"""
    z, g = sp.Symbol("z", real=True), sp.Symbol("g", real=True)
    return Definition(expr=_SCALE["value"] * z, inputs=(z,), textbook=sp.Integer(_SCALE["claimed"]), output=g)


@pytest.fixture
def scaled(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # the test's rule leaves with the test
    registry.register("scaled_for_derive_cache_test", "activation")(_scaled_builder)
    return "scaled_for_derive_cache_test"


@pytest.fixture
def proofs_run(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every rule whose proofs this process computes (--time-limit 0: the work runs here)."""
    proven: list[str] = []
    real = Rule.prove

    def prove(self):
        proven.append(self.name)
        return real(self)

    monkeypatch.setattr(Rule, "prove", prove)
    return proven


def derive(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(["derive", *argv, "--time-limit", "0"])
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def entries() -> list[Path]:
    return sorted((Path(cache_dir()) / f"v{FORMAT}").rglob("*.json"))


@pytest.mark.parametrize("flags", [[], ["--json"]])
def test_the_second_run_reads_the_proofs_and_prints_the_same(capsys, proofs_run, flags):
    cold = derive(capsys, "relu", *flags)
    assert proofs_run == ["relu"] and len(entries()) == 1
    warm = derive(capsys, "relu", *flags)
    assert warm == cold and proofs_run == ["relu"]
    assert "proven" in cold and "NOT PROVEN" not in cold


def test_another_variable_parameter_or_convention_is_proven_on_its_own(capsys, proofs_run):
    derive(capsys, "leaky_relu")
    derive(capsys, "leaky_relu", "--param", "alpha=0.5")
    derive(capsys, "leaky_relu", "--kink-convention", "left")
    derive(capsys, "prelu")
    derive(capsys, "prelu", "--wrt", "alpha")
    assert proofs_run == ["leaky_relu"] * 3 + ["prelu"] * 2 and len(entries()) == 5
    derive(capsys, "leaky_relu", "--param", "alpha=0.5")
    derive(capsys, "prelu", "--wrt", "alpha")
    assert len(proofs_run) == 5


def test_no_cache_proves_every_time_and_writes_nothing(capsys, proofs_run):
    first = derive(capsys, "relu", "--no-cache")
    assert derive(capsys, "relu", "--no-cache") == first
    assert proofs_run == ["relu", "relu"] and not Path(cache_dir()).exists()
    derive(capsys, "relu")
    assert derive(capsys, "relu", "--no-cache") == first and len(proofs_run) == 4  # an entry is not read either


def test_a_changed_rule_is_proven_again_and_a_wrong_claim_is_not_taken_from_the_cache(capsys, proofs_run, scaled, monkeypatch):
    first = derive(capsys, scaled)
    assert "derivative - textbook: proven" in first
    assert derive(capsys, scaled) == first and proofs_run == [scaled]
    monkeypatch.setitem(_SCALE, "value", 3)  # 3z, still claiming the derivative 2
    changed = derive(capsys, scaled)
    assert proofs_run == [scaled, scaled]
    assert "derivative - textbook: NOT PROVEN" in changed
    monkeypatch.setitem(_SCALE, "value", 2)
    assert derive(capsys, scaled) == first and len(proofs_run) == 2  # the first entry still holds


def test_changed_versions_are_proven_again(capsys, proofs_run, monkeypatch):
    first = derive(capsys, "relu")
    real = cache_module.environment
    monkeypatch.setattr(cache_module, "environment", lambda extra=(): {**real(extra), "sympy": "0.0"})
    assert derive(capsys, "relu") == first and proofs_run == ["relu", "relu"]
    monkeypatch.setattr(cache_module, "environment", lambda extra=(): {**real(extra), "symdl": "0.0.0"})
    assert derive(capsys, "relu") == first and len(proofs_run) == 3


def _entry(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _with(entry: dict, records: object) -> str:
    return json.dumps({**entry, "reports": records, "checksum": cache_module._checksum(records)})


CORRUPTIONS = {
    "not json": lambda e: "{not json",
    "empty": lambda e: "",
    "pickle": lambda e: "\x80\x04\x95",
    "bad checksum": lambda e: json.dumps({**e, "checksum": "0" * 64}),
    "another key": lambda e: json.dumps({**e, "key": "f" * 64}),
    "another format": lambda e: json.dumps({**e, "format": 0}),
    "not a list": lambda e: json.dumps([1, 2, 3]),
    "verdict as text": lambda e: _with(e, [[r[0], "true", r[2], r[3]] for r in e["reports"]]),
    "short record": lambda e: _with(e, [r[:2] for r in e["reports"]]),
    "cases as float": lambda e: _with(e, [[*r[:3], 1.0] for r in e["reports"]]),
    "label twice": lambda e: _with(e, [*e["reports"], e["reports"][0]]),
}


@pytest.mark.parametrize("corrupt", list(CORRUPTIONS.values()), ids=list(CORRUPTIONS))
def test_a_corrupt_entry_is_ignored_proven_again_and_replaced(capsys, proofs_run, corrupt):
    first = derive(capsys, "relu")
    (path,) = entries()
    entry = _entry(path)
    assert all(isinstance(r[1], bool) for r in entry["reports"])  # verdicts stored as JSON data
    path.write_text(corrupt(entry), encoding="utf-8")
    assert derive(capsys, "relu") == first and proofs_run == ["relu", "relu"]
    assert {**_entry(path), "seconds": 0} == {**entry, "seconds": 0}  # rewritten
    assert derive(capsys, "relu") == first and len(proofs_run) == 2
