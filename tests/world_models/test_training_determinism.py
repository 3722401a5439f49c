"""A training command's weights depend on its arguments alone (initialisation included, `seeded_init`): the same
command twice gives the same weights; for PE, whose schedule depends on the step alone, a run resumed with a larger
``--steps`` gives the weights of one run to that step. (LGE's learning rate follows a cosine over ``--steps``.)"""

import pytest
import torch
from safetensors.torch import load_file

from world_models.cli import main

FAMILIES = {
    "pe": ["--preset", "tiny", "--engine-sequences", "6"],
    "lge": ["--preset", "tiny", "--engine-sequences", "6"],
}


def _train(family: str, run, steps: int) -> dict[str, torch.Tensor]:
    assert main(["train", family, "--run", str(run), *FAMILIES[family], "--seed", "3", "--steps", str(steps),
                 "--save-minutes", "100"]) == 0  # fmt: skip
    return load_file(str(run / f"{family}.safetensors"))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_same_command_same_weights(tmp_path, family):
    once = _train(family, tmp_path / "a", 6)
    again = _train(family, tmp_path / "b", 6)
    assert once.keys() == again.keys() and all(torch.equal(once[k], again[k]) for k in once)


def test_pe_resumed_run_equals_one_run(tmp_path):
    once = _train("pe", tmp_path / "a", 6)
    _train("pe", tmp_path / "c", 3)
    resumed = _train("pe", tmp_path / "c", 6)
    assert all(torch.equal(once[k], resumed[k]) for k in once)


def test_pe_set_changes_the_config_and_a_resume_must_match(tmp_path):
    import json

    args = ["train", "pe", "--run", str(tmp_path), *FAMILIES["pe"], "--steps", "2", "--save-minutes", "100"]
    assert main([*args, "--set", "weight_acmv=0.5"]) == 0
    assert json.loads((tmp_path / "pe.json").read_text())["config"]["weight_acmv"] == 0.5
    with pytest.raises(SystemExit, match="another config.*weight_acmv"):
        main([*args[:-4], "--steps", "4", "--save-minutes", "100", "--set", "weight_acmv=0.7"])


def test_pe_keep_exports_keeps_each_step(tmp_path):
    once = _train("pe", tmp_path / "a", 4)
    assert main(["train", "pe", "--run", str(tmp_path / "b"), *FAMILIES["pe"], "--seed", "3", "--steps", "4",
                 "--save-minutes", "100", "--keep-exports"]) == 0  # fmt: skip
    kept = load_file(str(tmp_path / "b" / "exports" / "pe_000004.safetensors"))
    assert all(torch.equal(once[k], kept[k]) for k in once)
