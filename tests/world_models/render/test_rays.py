import math

import torch

from world_models.render import rays as R


def camera(fx=0.5, fy=0.9, pos=(0.0, -20.0, 10.0)):
    """A camera at ``pos`` looking along +y (OpenCV axes: x right, y down, z forward)."""
    rot = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
    return torch.cat([torch.tensor([fx, fy, 0.5, 0.5]), rot.reshape(-1), torch.tensor(pos)]).unsqueeze(0)


def test_image_rays_match_pixel_rays():
    cams = torch.cat([camera(), camera(0.7, 1.1, (1.0, -25.0, 8.0))])
    img = R.image_rays(cams, 6, 10)
    assert len(img) == 2 * 60
    again = R.pixel_rays(cams, img.frame, img.pixel[:, 0], img.pixel[:, 1], 6, 10)
    for name in ("origin", "direction", "du", "dv", "focal"):
        assert torch.allclose(getattr(img, name), getattr(again, name), atol=1e-5), name


def test_centre_ray_looks_forward_with_unit_depth():
    rays = R.pixel_rays(camera(), torch.tensor([0]), torch.tensor([5.0]), torch.tensor([3.0]), 6, 10)
    assert torch.allclose(rays.direction, torch.tensor([[0.0, 1.0, 0.0]]), atol=1e-6)


def test_plane_hit_and_footprint():
    rays = R.pixel_rays(camera(), torch.tensor([0]), torch.tensor([5.0]), torch.tensor([5.5]), 6, 10)
    t, p = R.plane_hit(rays, 2, 0.0)
    assert math.isfinite(float(t)) and abs(float(p[0, 2])) < 1e-5
    foot = R.plane_footprint(rays, 2, t)
    assert foot.shape == (1, 3) and float(foot[0, 1]) > float(foot[0, 0]) > 0  # grazing: longer along y
    up = R.pixel_rays(camera(), torch.tensor([0]), torch.tensor([5.0]), torch.tensor([0.5]), 6, 10)
    assert math.isinf(float(R.plane_hit(up, 2, 0.0)[0]))


def test_box_hit_and_closest_point():
    o = torch.tensor([[0.0, -5.0, 1.0], [0.0, -5.0, 5.0]])
    d = torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    hit, near, far = R.box_hit(
        o, d, torch.tensor([-1.0, -1.0, 0.0]).expand(2, 3), torch.tensor([1.0, 1.0, 2.0]).expand(2, 3)
    )
    assert hit.tolist() == [True, False]
    assert torch.allclose(near[0], torch.tensor(4.0)) and torch.allclose(far[0], torch.tensor(6.0))
    t = R.closest_on_ray(o[:1], d[:1], torch.tensor([[2.0, 0.0, 1.0]]), torch.tensor([[2.0, 0.0, 3.0]]))
    assert torch.allclose(t, torch.tensor([5.0]))
    offsets, along = R.segment_offsets(
        torch.tensor([[[2.0, 1.0, 2.0]]]), torch.tensor([[[2.0, 0.0, 1.0]]]), torch.tensor([[[2.0, 0.0, 3.0]]])
    )
    assert torch.allclose(offsets, torch.tensor([0.0, 1.0, 0.0]).view(1, 1, 1, 3)) and float(along) == 0.5


def test_project_inverts_rays():
    cams = camera()
    rays = R.pixel_rays(cams, torch.tensor([0]), torch.tensor([2.5]), torch.tensor([4.5]), 6, 10)
    point = rays.origin + 7.0 * rays.direction
    uv, z = R.project(cams, point.unsqueeze(0), 6, 10)
    assert torch.allclose(uv[0, 0], torch.tensor([2.5, 4.5]), atol=1e-4) and torch.allclose(z[0, 0], torch.tensor(7.0))
