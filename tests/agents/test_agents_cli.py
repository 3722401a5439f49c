"""`python -m agents train` and `eval`: PPO inside the learned game, checked in the real one."""

import json

from agents.cli import main

LGE_TINY = {"checkpoint": None, "preset": "tiny"}


def test_train_in_the_learned_game_and_eval_in_both(tmp_path):
    out = tmp_path / "ppo"
    assert main(["train", "LGE-Tennis-v0", "--timesteps", "128", "--num-envs", "2", "--n-steps", "32",
                 "--env-kwargs", json.dumps(LGE_TINY), "--out", str(out)]) == 0  # fmt: skip
    record = json.loads((out / "policy.json").read_text())
    assert record["timesteps"] >= 128 and record["torch_threads"] == 1
    kwargs = {"LGE-Tennis-v0": {**LGE_TINY, "max_episode_steps": 10}, "TennisSim-v0": {}}
    assert main(["eval", str(out / "policy.zip"), "--env", "LGE-Tennis-v0", "TennisSim-v0", "--episodes", "1",
                 "--env-kwargs", json.dumps(kwargs), "--out", str(out)]) == 0  # fmt: skip
    rows = json.loads((out / "eval.json").read_text())["results"]
    assert {(r["env_id"], r["agent"]) for r in rows} == {
        (e, a) for e in ("LGE-Tennis-v0", "TennisSim-v0") for a in ("policy", "random")
    }
    assert (out / "eval.png").is_file()


def test_time_budget_stops_training(tmp_path):
    out = tmp_path / "ppo"
    assert main(["train", "LGE-Tennis-v0", "--timesteps", "100000", "--num-envs", "2", "--n-steps", "16",
                 "--minutes", "0.0001", "--env-kwargs", json.dumps(LGE_TINY), "--out", str(out)]) == 0  # fmt: skip
    assert json.loads((out / "policy.json").read_text())["timesteps"] < 100000
