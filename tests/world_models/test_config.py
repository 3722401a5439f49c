import pytest

from world_models import build_model, preset
from world_models.core.config import ConfigError, config_from_dict, config_to_dict, config_with_overrides
from world_models.toy import ToyConfig
from world_models.zoo import FAMILIES, PRESETS


@pytest.mark.parametrize(("family", "name"), [(f, n) for f in PRESETS for n in PRESETS[f]])
def test_presets_round_trip_and_build(family, name):
    config = preset(family, name)
    assert config_from_dict(type(config), config_to_dict(config)) == config
    assert type(config) is FAMILIES[family][0]
    if name.startswith("tiny"):
        model = build_model(family, name)
        assert sum(p.numel() for p in model.parameters()) > 0


def test_unknown_field_is_named():
    with pytest.raises(ConfigError, match="no field.*'latnt_dim'"):
        config_from_dict(ToyConfig, {"latnt_dim": 3})


def test_invalid_value():
    with pytest.raises(ConfigError, match="multiples of 4"):
        config_from_dict(ToyConfig, {"height": 30})


def test_unknown_preset_and_family():
    with pytest.raises(KeyError, match="no preset 'huge'"):
        preset("toy", "huge")
    with pytest.raises(KeyError, match="unknown model family"):
        build_model("nope")


def test_overrides_apply_typed_values():
    config = config_with_overrides(preset("pe", "small"), ["weight_acmv=0.1", "batch_size=8", "locations=boxes"])
    assert (config.weight_acmv, config.batch_size, config.locations) == (0.1, 8, "boxes")
    assert config_with_overrides(preset("pe", "small"), ["weight_acmv=2"]).weight_acmv == 2.0  # int for a float


@pytest.mark.parametrize(("assignment", "message"), [
    ("weight_acmvv=1", "no field 'weight_acmvv'"),
    ("weight_acmv=abc", "of type float"),
    ("batch_size=0.5", "of type int"),
    ("locations=nowhere", "locations must be one of"),
    ("weight_acmv", "FIELD=VALUE"),
])  # fmt: skip
def test_bad_overrides_are_named(assignment, message):
    with pytest.raises(ConfigError, match=message):
        config_with_overrides(preset("pe", "small"), [assignment])


@pytest.mark.parametrize(("family", "structural"), [("pvg", {"num_actions": 4}), ("pe", {"num_actions": 8}),
                                                   ("lge", {"d_model": 64})])  # fmt: skip
def test_loss_fields_name_real_fields_and_a_warm_start_may_change_them(tmp_path, family, structural):
    """`--init` continues weights under other loss settings, never under another architecture."""
    import dataclasses

    from world_models.core.checkpoint import CheckpointError
    from world_models.zoo import save_model, warm_start

    config = preset(family, "tiny")
    names = {f.name for f in dataclasses.fields(config)}
    assert set(type(config).LOSS_FIELDS) <= names
    save_model(tmp_path / "m", build_model(family, config), info={"steps": 5})
    field = type(config).LOSS_FIELDS[0]
    changed = dataclasses.replace(config, **{field: getattr(config, field) * 2 + 1})
    assert warm_start(build_model(family, changed), tmp_path / "m.safetensors")[0] == 5
    with pytest.raises(CheckpointError, match="another config"):
        warm_start(build_model(family, dataclasses.replace(config, **structural)), tmp_path / "m.safetensors")
