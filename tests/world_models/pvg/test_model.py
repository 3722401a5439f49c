"""PVG on the real code path with the tiny preset: interface, determinism, training, checkpoints, evaluation."""

from __future__ import annotations

import json

import pytest
import torch
from tensordict import TensorDict

from world_models.cli import main
from world_models.layers.gumbel import gumbel_softmax
from world_models.pvg.losses import MutualInformation, training_losses
from world_models.zoo import build_model, load_model, save_model


@pytest.mark.parametrize(
    "name, expected", [("paper", 3_138_659), ("paper_bair", 9_856_367), ("paper_tennis", 9_517_999)]
)
def test_published_parameter_counts(name, expected):
    model = build_model("pvg", name)
    heads = [model.reward_head, model.termination_head]
    count = sum(p.numel() for p in model.parameters()) - sum(p.numel() for h in heads for p in h.parameters())
    assert count == expected


def test_interface_shapes():
    model = build_model("pvg", "tiny").eval()
    g = torch.Generator().manual_seed(0)
    state = model.initial_state(3, generator=g)
    frames = model.render(state)
    assert frames.shape == (3, 32, 24, 3) and frames.dtype == torch.uint8
    state, aux = model.step(state, torch.tensor([[0], [1], [2]]), generator=g)
    assert aux["reward"].shape == (3,) and aux["terminated"].dtype == torch.bool
    assert model.render(state).shape == (3, 32, 24, 3)
    # Start frames of any size are resized; shipped start frames are drawn with the generator.
    big = torch.randint(0, 255, (2, 210, 160, 3), dtype=torch.uint8)
    state = model.initial_state(2, generator=g, context=TensorDict({"frames": big}, batch_size=[2]))
    assert model.render(state).shape == (2, 32, 24, 3)
    model.set_start_frames(torch.randint(0, 255, (5, 32, 24, 3), dtype=torch.uint8))
    first = model.render(model.initial_state(4, generator=torch.Generator().manual_seed(1)))
    second = model.render(model.initial_state(4, generator=torch.Generator().manual_seed(1)))
    assert torch.equal(first, second)


def test_rollout_and_training_step_are_deterministic(breakout_data):
    from world_models.data.pvg_format import SequenceSampler, read_split

    model = build_model("pvg", "tiny")
    c = model.config
    videos = read_split(breakout_data, "train", size_hw=(c.height, c.width), crop=c.crop)
    sampler = SequenceSampler(videos)
    losses = []
    for _ in range(2):
        torch.manual_seed(123)  # only to rebuild identical initial weights; sampling uses the generator
        model = build_model("pvg", "tiny").train()
        g = torch.Generator().manual_seed(7)
        batch = sampler.sample(2, 4, g)
        obs = model.prepare_frames(batch["observations"].flatten(0, 1)).view(2, 4, -1, c.height, c.width)
        unroll = model.unroll(obs, temperature=1.0, teacher_forced=2, generator=g)
        terms = training_losses(model, unroll, obs, batch["rewards"], batch["dones"], MutualInformation(3, 0.2), pretraining=False)
        terms["total"].backward()
        losses.append({k: v.item() for k, v in terms.items()})
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    assert losses[0] == losses[1]


def test_gumbel_softmax_uses_generator():
    logp = torch.log_softmax(torch.randn(4, 3), -1)
    a = gumbel_softmax(logp, 0.5, generator=torch.Generator().manual_seed(0))
    b = gumbel_softmax(logp, 0.5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and torch.allclose(a.sum(-1), torch.ones(4))


def test_save_load_round_trip(tmp_path):
    model = build_model("pvg", "tiny").eval()
    starts = torch.randint(0, 255, (3, 32, 24, 3), dtype=torch.uint8)
    save_model(tmp_path / "m", model, info={"keymap": {"left": 1}}, extras={"start_frames": starts})
    loaded, header, extras = load_model(tmp_path / "m.safetensors", family="pvg")
    assert header["info"]["keymap"] == {"left": 1} and torch.equal(extras["start_frames"], starts)
    context = TensorDict({"frames": starts}, batch_size=[3])
    outs = []
    for m in (model, loaded):
        state = m.initial_state(3, generator=torch.Generator().manual_seed(0), context=context)
        for _ in range(3):
            state, _ = m.step(state, torch.tensor([[0], [1], [2]]), generator=torch.Generator())
        outs.append(m.render(state))
    assert torch.equal(outs[0], outs[1])


def test_train_resume_and_eval_commands(breakout_data, tmp_path):
    run = tmp_path / "run"
    args = ["train", "pvg", "--data", str(breakout_data), "--preset", "tiny", "--run", str(run), "--threads", "1",
            "--sample-every", "2", "--save-minutes", "0"]
    assert main([*args, "--steps", "3"]) == 0
    assert (run / "state.pt").is_file() and (run / "latest.safetensors").is_file()
    assert any((run / "samples").glob("strip_*.png"))
    assert main([*args, "--steps", "4"]) == 0
    meta = json.loads((run / "run.json").read_text())
    assert [c["start_step"] for c in meta["commands"]] == [0, 3]
    _, header, extras = load_model(run / "latest.safetensors")
    assert header["info"]["steps_trained"] == 4 and extras["start_frames"].shape[1:] == (32, 24, 3)
    # Every save after pretraining validates; best.safetensors carries the score that chose it.
    checks = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if "val_score" in line]
    assert [c["step"] for c in checks] == [2, 3, 4]
    for c in checks:
        assert c["val_score"] == min(c["val_agreement"], *c["val_playability"].values())
    _, best, _ = load_model(run / "best.safetensors")
    assert best["info"]["validation"]["val_score"] == max(c["val_score"] for c in checks)
    out = tmp_path / "eval"
    assert main(["eval", "pvg", "--checkpoint", str(run / "latest.safetensors"), "--data", str(breakout_data),
                 "--out", str(out), "--max-clips", "4", "--starts", "3", "--rollout-length", "6", "--threads", "1"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 <= metrics["actions"]["agreement"] <= 1
    assert set(metrics["playability"]["keymap"]) == {"stay", "left", "right"}
    assert (out / "eval.png").is_file()


@pytest.mark.parametrize("command", [["data", "atari"], ["train", "pvg"], ["eval", "pvg"]])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0 and "--" in capsys.readouterr().out


def test_sigterm_saves_the_work_done(breakout_data, tmp_path):
    """`kill` finishes the step, writes the resume state and exits cleanly; nothing trained is lost."""
    import os
    import signal
    import threading
    import time

    run = tmp_path / "run"

    def kill_when_training():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            log = run / "log.jsonl"
            if log.is_file() and log.read_text().count("\n") >= 1:
                break
            time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGTERM)

    killer = threading.Thread(target=kill_when_training)
    killer.start()
    code = main(["train", "pvg", "--data", str(breakout_data), "--preset", "tiny", "--run", str(run), "--threads", "1",
                 "--sample-every", "1000", "--save-minutes", "100", "--steps", "100000"])
    killer.join()
    assert code == 0
    step = torch.load(run / "state.pt", weights_only=True)["step"]
    assert 10 <= step < 100000
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is removed again


def test_refit_classifier_gives_each_action_the_directions_nearest_its_centroid():
    model = build_model("pvg", "tiny")
    network = model.action_network
    centroids = torch.tensor([[-5.0], [0.0], [5.0]])
    directions = torch.tensor([[-6.0], [-4.5], [-0.5], [0.3], [4.0], [5.5]])
    with torch.no_grad():  # a classifier under which action 1 wins nowhere: d=0 goes to action 0
        network.final_fc.weight.copy_(torch.tensor([[-1.0], [-0.5], [1.0]]))
        network.final_fc.bias.copy_(torch.tensor([1.0, -0.5, -1.5]))
    assert 1 not in network.final_fc(directions).argmax(-1).tolist()
    variance = network.refit_classifier(centroids, directions)
    assert network.final_fc(directions).argmax(-1).tolist() == [0, 0, 1, 1, 2, 2]
    assert variance == pytest.approx(((1 + 0.25 + 0.25 + 0.09 + 1 + 0.25) / 6), rel=1e-4)


def test_training_revives_an_action_whose_share_falls_below_the_threshold(breakout_data, tmp_path):
    run = tmp_path / "run"
    # A threshold above any share (1/3 each at best) revives at every step after pretraining: each is logged.
    assert main(["train", "pvg", "--data", str(breakout_data), "--preset", "tiny", "--run", str(run), "--threads", "1",
                 "--sample-every", "100", "--save-minutes", "100", "--steps", "4", "--revive-dead-actions", "0.9"]) == 0  # fmt: skip
    events = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if "revived_actions" in line]
    assert [e["step"] for e in events] == [2, 3, 4]  # pretraining is step 0 only
    assert torch.load(run / "state.pt", weights_only=True)["action_usage"].shape == (3,)


def test_action_coordinates_grow_from_weights_trained_without_them(tmp_path):
    """A run may switch `action_coordinates` on over trained weights: the grown model infers the same actions and
    frames; switching it off again is refused."""
    import dataclasses

    from world_models.core.checkpoint import CheckpointError
    from world_models.zoo import build_model, preset, save_model, warm_start

    plain = build_model("pvg", preset("pvg", "tiny")).eval()
    save_model(tmp_path / "plain", plain, info={"steps_trained": 5})
    grown = build_model("pvg", dataclasses.replace(plain.config, action_coordinates=True)).eval()
    assert warm_start(grown, tmp_path / "plain.safetensors")[0] == 5
    c = plain.config
    frames = torch.rand(2, 3, 3 * c.frames_per_observation, c.height, c.width)
    with torch.no_grad():
        assert torch.allclose(plain.infer_actions(frames).logits, grown.infer_actions(frames).logits, atol=1e-6)
    assert grown.action_network.residuals[0].conv1.weight.shape[1] == c.state_channels + 2
    save_model(tmp_path / "grown", grown)
    with pytest.raises(CheckpointError, match="switched on"):
        warm_start(build_model("pvg", c), tmp_path / "grown.safetensors")


def test_keypoint_action_state_is_a_position_and_rediscovers_actions(tmp_path):
    """With `action_keypoints` the action state's mean is a linear read of soft-argmax keypoints: a bright spot
    moved across the whole attended state moves the mean monotonically (no bend at the borders). Switching it on
    over trained weights keeps everything but the mean head, which is then fitted to the old head's directions."""
    import dataclasses

    from world_models.pvg.action import ActionNetwork
    from world_models.zoo import build_model, preset, save_model, warm_start

    config = dataclasses.replace(preset("pvg", "tiny"), action_keypoints=1, state_channels=1)
    network = ActionNetwork(config).eval()
    with torch.no_grad():
        # One keypoint map that is the input itself, a mean that reads its x coordinate.
        conv_in, _, conv_out = network.keypoint_maps
        conv_in.weight.zero_(), conv_in.bias.zero_(), conv_out.bias.zero_()
        conv_in.weight[:, 0, 1, 1] = 1.0
        conv_out.weight.fill_(1.0)
        network.mean_fc.weight.copy_(torch.tensor([[1.0, 0.0]])), network.mean_fc.bias.zero_()
        states = torch.zeros(8, 1, 4, 8)
        for x in range(8):
            states[x, 0, 2, x] = 20.0
        mean, _ = network.frame_gaussians(states, torch.ones(8, 1, 4, 8))
    assert bool((mean[1:, 0] - mean[:-1, 0] > 0.2).all())  # evenly spaced spots: 2/7 apart in [-1, 1]

    plain = build_model("pvg", preset("pvg", "tiny")).eval()
    save_model(tmp_path / "plain", plain, info={"steps_trained": 5})
    keyed = build_model("pvg", dataclasses.replace(plain.config, action_keypoints=4)).eval()
    fresh_head = keyed.action_network.mean_fc.weight.clone()
    assert warm_start(keyed, tmp_path / "plain.safetensors")[0] == 5
    assert torch.equal(keyed.action_network.mean_fc.weight, fresh_head) and fresh_head.shape[1] == 8
    for key, value in plain.state_dict().items():
        if not key.startswith("action_network.mean_fc"):
            assert torch.equal(keyed.state_dict()[key], value), key
    c = plain.config
    frames = torch.rand(2, 3, 3 * c.frames_per_observation, c.height, c.width)
    with torch.no_grad():
        assert keyed.infer_actions(frames).logits.shape == (2, 2, c.num_actions)


def test_init_records_the_chain_of_commands(breakout_data, tmp_path):
    """A run continued from a release checkpoint (--init) records the command that trained it, also when resumed,
    and the release file exported by eval keeps the chain."""
    first, second = tmp_path / "first", tmp_path / "second"
    common = ["--data", str(breakout_data), "--preset", "tiny", "--threads", "1", "--sample-every", "100",
              "--save-minutes", "100"]  # fmt: skip
    assert main(["train", "pvg", "--run", str(first), *common, "--steps", "3"]) == 0
    init = ["train", "pvg", "--run", str(second), *common, "--init", str(first / "latest.safetensors")]
    assert main([*init, "--steps", "5"]) == 0
    assert main([*init, "--steps", "6"]) == 0  # resumed
    _, header, _ = load_model(second / "latest.safetensors")
    chain = header["info"]["continued_from"]
    assert chain["steps_trained"] == 3 and f"--run {first}" in chain["command"]
    export = tmp_path / "release"
    assert main(["eval", "pvg", "--checkpoint", str(second / "best.safetensors"), "--data", str(breakout_data),
                 "--out", str(tmp_path / "eval"), "--max-clips", "2", "--starts", "2", "--rollout-length", "4",
                 "--threads", "1", "--export", str(export)]) == 0  # fmt: skip
    info = load_model(export.with_suffix(".safetensors"))[1]["info"]
    assert info["continued_from"] == chain and info["validation"]["rule"] == "min(agreement, playability)"


def test_a_fresh_keypoint_head_is_matched_to_the_trained_action_state(tmp_path):
    """Before a rediscovery run's first step the new mean head is re-expressed in the old head's units: the
    least-squares map from the new directions to the old ones is folded in, so the directions then fit the old
    ones as well as a linear map can (the residual is orthogonal to them)."""
    import dataclasses

    from world_models.pvg.train import match_action_state
    from world_models.zoo import preset, warm_start

    torch.manual_seed(0)
    plain = build_model("pvg", preset("pvg", "tiny")).eval()
    save_model(tmp_path / "plain", plain)
    keyed = build_model("pvg", dataclasses.replace(plain.config, action_keypoints=4))
    warm_start(keyed, tmp_path / "plain.safetensors")
    c = plain.config
    frames = torch.rand(6, 4, 3 * c.frames_per_observation, c.height, c.width) * 2 - 1
    record = match_action_state(keyed, frames)
    assert keyed.training and 0.0 <= record["explained"] <= 1.0
    with torch.no_grad():
        new = keyed.eval().infer_actions(frames).direction_mean.flatten()
        old = plain.infer_actions(frames).direction_mean.flatten()
    assert abs(float(((old - new) * new).sum())) < 1e-3 * float((old**2).sum())
