"""``eval pe-select``: the validation rule that chooses a PE run's export, on a tiny run with two kept exports."""

import json

import pytest

from world_models.cli import main
from world_models.pe import select
from world_models.zoo import load_model


def _row(agreement: float, bottom: int, top: int) -> dict:
    return {"agreement": agreement, "slow_actions": {"bottom": bottom, "top": top}}


def test_choose_takes_the_best_agreement_among_exports_with_few_still_actions():
    scores = {100: _row(0.80, 3, 1), 200: _row(0.74, 1, 1), 300: _row(0.76, 1, 0), 400: _row(0.76, 0, 1)}
    assert select.choose(scores, max_slow=1) == 300  # 100 agrees best but holds 3 still actions; ties: earliest
    assert select.choose(scores, max_slow=3) == 100
    assert select.choose({100: _row(0.8, 2, 2)}, max_slow=1) is None


def test_select_scores_every_export_once_and_writes_json_and_plot(tmp_path, monkeypatch):
    train = ["train", "pe", "--run", str(tmp_path), "--preset", "tiny", "--engine-sequences", "4", "--seed", "1",
             "--save-minutes", "100", "--keep-exports"]  # fmt: skip
    assert main([*train, "--steps", "2"]) == 0
    assert main([*train, "--steps", "4"]) == 0
    args = ["eval", "pe-select", "--run", str(tmp_path), "--points", "2", "--max-slow", "7"]
    assert main(args) == 0
    result = json.loads((tmp_path / "selection.json").read_text())
    assert sorted(result["scores"]) == ["2", "4"]
    assert result["chosen_step"] in (2, 4)
    assert 0.0 <= result["scores"]["4"]["agreement"] <= 1.0
    assert (tmp_path / "selection.png").stat().st_size > 0
    # A rerun reuses the cached scores: nothing is scored again.
    monkeypatch.setattr(select, "score", lambda *a, **k: pytest.fail("a cached export was scored again"))
    assert main([*args, "--export", str(tmp_path / "chosen")]) == 0
    _, header, _ = load_model(tmp_path / "chosen.safetensors", family="pe")
    assert header["info"]["steps"] == result["chosen_step"] == header["info"]["selection"]["chosen_step"]
    assert set(header["info"]["selection"]["validation_agreement_by_step"]) == {"2", "4"}


def test_select_without_exports_says_how_to_get_them(tmp_path):
    with pytest.raises(SystemExit, match="--keep-exports"):
        main(["eval", "pe-select", "--run", str(tmp_path)])
