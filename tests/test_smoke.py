"""`plait --smoke-test`: the installation check that installers and the bundle run."""

from __future__ import annotations

import io

from app import smoke


def test_the_smoke_test_passes_from_the_source_tree(run_cli, vault_dir) -> None:
    result = run_cli("--smoke-test")
    lines = result.stdout.splitlines()
    assert lines[0].startswith("plait ") and "smoke test" in lines[0]
    assert [line.split()[1] for line in lines[1:-1]] == ["vault", "note", "search", "crypto",
                                                         "window"]
    assert all(line.split()[0] == "ok" for line in lines[1:-1])
    assert lines[-1].startswith("plait smoke test: ok in ")
    assert not vault_dir.exists(), "the smoke test never touches the user's vault"


def test_a_failing_step_is_named_and_exits_1(monkeypatch) -> None:
    def broken(state):
        raise RuntimeError("whoosh is missing")

    monkeypatch.setattr(smoke, "STEPS", [smoke.STEPS[0], ("search", broken)])
    out = io.StringIO()
    assert smoke.run_smoke_test(out) == 1
    assert "FAILED  search: RuntimeError: whoosh is missing" in out.getvalue()
    assert "smoke test: ok" not in out.getvalue()
