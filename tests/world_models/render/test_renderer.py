"""The renderer on the real code path with the tiny preset: shapes, batching, determinism, conditioning, I/O."""

import dataclasses

import pytest
import torch

from world_models.core.checkpoint import CheckpointError, save_checkpoint
from world_models.core.config import config_from_dict, config_to_dict
from world_models.engines.tennis import layout
from world_models.render import PRESETS, STYLE_SIZE, RendererConfig, TennisRenderer, default_styles, scene_style
from world_models.render import rays as R
from world_models.render.zoo import build_renderer, load_renderer, save_renderer

HEIGHT, WIDTH = 18, 32  # the conftest sequence size


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_round_trip(name):
    config = PRESETS[name]
    assert config_from_dict(RendererConfig, config_to_dict(config)) == config
    if name == "tiny":
        assert sum(p.numel() for p in build_renderer(name).parameters()) > 0


def test_config_fields_are_documented():
    import inspect

    source = inspect.getsource(RendererConfig)
    for field in dataclasses.fields(RendererConfig):
        assert f"{field.name}: " in source
    from world_models.render.train import field_docs

    assert set(field_docs(RendererConfig)) == {f.name for f in dataclasses.fields(RendererConfig)}


def test_render_shapes_and_dtype(model, frames):
    states = frames.states[:3]
    out = model.render(states)
    assert out.shape == (3, model.config.height, model.config.width, 3) and out.dtype == torch.uint8
    big = model.render(states[:1], height=27, width=48)
    assert big.shape == (1, 27, 48, 3)
    images, cover = model.render_float(states, height=HEIGHT, width=WIDTH)
    assert images.dtype == torch.float32 and cover.shape == (3, HEIGHT, WIDTH, 5)
    assert torch.allclose(cover.sum(-1), torch.ones(3, HEIGHT, WIDTH), atol=1e-4)  # weights of a ray sum to 1


def test_default_styles_follow_state(frames):
    styles = default_styles(frames.states[:2])
    assert styles.shape == (2, STYLE_SIZE)
    court = frames.states[0, layout.SLICES["scene.court_colour"]]
    assert torch.allclose(styles[0, 3:6], court)
    # the engine's surround rule reproduces the sequence's surround colour
    assert torch.allclose(styles[0, 6:9], frames.styles[0, 6:9], atol=1e-4)


def test_batch_over_cameras_matches_one_by_one(model, frames):
    state = frames.states[:1].expand(3, -1)
    base = state[:, layout.SLICES["camera.intrinsics"].start : layout.SLICES["camera.translation"].stop].clone()
    base[1, 13] += 2.0  # move the camera 2 m to the right
    base[2, 0] *= 1.3  # zoom in
    batch = model.render(state, base, None)
    singles = torch.cat([model.render(state[i : i + 1], base[i : i + 1]) for i in range(3)])
    assert torch.equal(batch, singles)
    assert not torch.equal(batch[0], batch[1]) and not torch.equal(batch[0], batch[2])


def test_cached_backdrop_matches_a_fresh_render(frames):
    """Outside training the backdrop of an unchanged camera is reused: frames equal those rendered afresh (with
    gradients on, no cache), also after the camera, the styles or the weights change."""
    model = build_renderer("tiny")
    states = frames.states[:3]
    cameras = states[:, layout.SLICES["camera.intrinsics"].start : layout.SLICES["camera.translation"].stop].clone()

    def fresh(*args):
        with torch.enable_grad():
            return model.render_float(*args)[0].detach()

    with torch.no_grad():
        for _ in range(2):
            assert torch.allclose(model.render_float(states)[0], fresh(states), atol=1e-6)
        cameras[:, 13] += 1.5
        assert torch.allclose(model.render_float(states, cameras)[0], fresh(states, cameras), atol=1e-6)
        styles = default_styles(states)
        styles[:, 3:6] = torch.tensor([0.8, 0.2, 0.2])
        assert torch.allclose(model.render_float(states, None, styles)[0], fresh(states, None, styles), atol=1e-6)
        for p in model.backdrop.parameters():
            p.add_(0.1)
        assert torch.allclose(model.render_float(states)[0], fresh(states), atol=1e-6)


def test_pixel_subset_matches_full_image(model, frames):
    scene = model.scene(frames.states[:2], None, frames.styles[:2])
    full, _ = model.render_rays(scene, R.image_rays(scene.cameras, HEIGHT, WIDTH), HEIGHT, WIDTH)
    pick = torch.tensor([0, 77, 300, 575, 576 + 33, 2 * 576 - 1])
    frame, pix = pick // (HEIGHT * WIDTH), pick % (HEIGHT * WIDTH)
    u, v = (pix % WIDTH).float() + 0.5, (pix // WIDTH).float() + 0.5
    part, _ = model.render_rays(scene, R.pixel_rays(scene.cameras, frame, u, v, HEIGHT, WIDTH), HEIGHT, WIDTH)
    assert torch.allclose(part, full[pick], atol=1e-5)


def test_determinism(frames):
    torch.manual_seed(3)
    a = build_renderer("tiny")
    torch.manual_seed(3)
    b = build_renderer("tiny")
    states = frames.states[:2]
    assert torch.equal(a.render(states), b.render(states))
    assert torch.equal(a.render(states), a.render(states))


def test_save_load_round_trip(model, frames, tmp_path):
    path = save_renderer(tmp_path / "r", model, info={"command": "test"})
    loaded, header = load_renderer(path)
    assert header["family"] == "render" and header["info"]["command"] == "test"
    assert loaded.config == model.config
    assert torch.equal(loaded.render(frames.states[:2]), model.render(frames.states[:2]))
    other = save_checkpoint(tmp_path / "o", torch.nn.Linear(2, 2), family="toy", config={})
    with pytest.raises(CheckpointError, match="'toy' model"):
        load_renderer(other)


def opaque_players(model: TennisRenderer) -> TennisRenderer:
    with torch.no_grad():
        model.player.net[-1].bias[0] = 20.0  # every sample inside a box fully opaque
    return model


def test_style_changes_court_not_players(model, frames):
    model = opaque_players(model)
    states = frames.states[:2]
    style_a = frames.styles[:2]
    style_b = scene_style(torch.tensor([1, 1]), torch.tensor([[0.7, 0.4, 0.2]] * 2))
    a, cover = model.render_float(states, None, style_a, height=HEIGHT, width=WIDTH)
    b, _ = model.render_float(states, None, style_b, height=HEIGHT, width=WIDTH)
    players = (cover[..., 1] + cover[..., 2]) > 0.999
    background = cover[..., 0] > 0.999
    assert players.any() and background.any()
    assert (a - b).abs()[background].mean() > 1e-3
    assert torch.allclose(a[players], b[players], atol=1e-3)


def test_pose_changes_only_that_player(model, frames):
    model = opaque_players(model)
    states = frames.states[:1].clone()
    moved = states.clone()
    sl = layout.SLICES["bottom.joints"]
    joints = moved[0, sl].view(-1, 3)
    joints[layout.JOINT_INDEX["r_wrist"]] += torch.tensor([0.4, 0.0, 0.5])
    joints[layout.JOINT_INDEX["racket_head"]] += torch.tensor([0.4, 0.0, 0.5])
    size = dict(height=2 * HEIGHT, width=2 * WIDTH)
    a, cover_a = model.render_float(states, **size)
    b, cover_b = model.render_float(moved, **size)
    changed = (a - b).abs().amax(-1) > 1e-5
    assert changed.any()
    # every changed pixel lies on the bottom player's (old or new) screen box
    scene_a, scene_b = model.scene(states), model.scene(moved)
    rect = torch.cat(
        [R.screen_boxes(s.cameras, s.box_low, s.box_high, 2 * HEIGHT, 2 * WIDTH)[0, 0:1] for s in (scene_a, scene_b)]
    )
    v, u = changed[0].nonzero(as_tuple=True)
    u, v = u.float() + 0.5, v.float() + 0.5
    inside = (
        (u[:, None] >= rect[:, 0])
        & (u[:, None] <= rect[:, 2])
        & (v[:, None] >= rect[:, 1])
        & (v[:, None] <= rect[:, 3])
    )
    assert inside.any(1).all()
    assert torch.allclose(cover_a[..., 2], cover_b[..., 2])  # the top player is untouched


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_render_on_cuda_matches_cpu(model, frames):
    cpu = model.render(frames.states[:2])
    gpu = model.to("cuda").render(frames.states[:2])
    assert gpu.device.type == "cuda"
    assert (gpu.cpu().int() - cpu.int()).abs().max() <= 2


def test_feature_decoder_alternative_shapes(model, frames):
    from world_models.render.decoder import FeatureUpsampler, render_decoded

    decoder = FeatureUpsampler()
    scene = model.scene(frames.states[:2], None, frames.styles[:2])
    full = render_decoded(model, decoder, scene, None, (HEIGHT, WIDTH), HEIGHT, WIDTH)
    assert full.shape == (2, HEIGHT, WIDTH, 3)
    patch = render_decoded(model, decoder, scene, torch.tensor([[2, 2], [4, 0]]), (8, 8), HEIGHT, WIDTH)
    assert patch.shape == (2, 8, 8, 3)
