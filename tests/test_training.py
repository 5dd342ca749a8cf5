"""Training on the CPU: each shipped config trains a few steps on generated data (loss falls),
saves, resumes and evaluates; torchrun with 2 gloo processes gives the same weights as one
process on the same global batch."""

import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("skimage", reason="scikit-image holds the scene textures")

from depth_core.checkpoint import load_checkpoint, read_metadata  # noqa: E402
from depth_core.metrics import METRIC_NAMES  # noqa: E402
from depth_core.training.config import TrainConfig  # noqa: E402
from depth_core.training.schedule import decay_factor, warmup_factor  # noqa: E402
from depth_core.training.trainer import Trainer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "training" / "configs"
TINY = {
    "input_size": [64, 96],
    "train_crop": None,
    "batch_size": 2,
    "workers": 0,
    "train_data": {"kind": "scenes", "count": 2, "seed": 1},
    "val_data": {"kind": "scenes", "count": 2, "seed": 2},
    "val_every": 100,
    "image_every": 100,
    "max_minutes": None,
    "lr": 1e-3,
}
STEPS = {
    "scenes_monocular": {"steps": 24},
    "scenes_latent": {"latent_stage_steps": [10, 20]},
    # recovery starts at its filled raw input, so its loss has less to lose per step
    "scenes_recovery": {"steps": 48, "uncertainty_pretrain_steps": 4},
}


def tiny_config(name: str, **extra) -> TrainConfig:
    overrides = {**TINY, **STEPS[name], **extra}
    config = TrainConfig.from_yaml(CONFIGS / f"{name}.yaml", overrides)
    config.model = {**config.model, "pretrained": False}  # speed: no ImageNet load per test
    return config


def test_a_config_starts_from_its_base_and_replaces_whole_keys(tmp_path):
    (tmp_path / "base.yaml").write_text(
        "model: {name: transfer_monocular}\nobjective: monocular\nlr: 1.0e-4\nsteps: 7\n"
        "train_data: {kind: scenes, count: 100, seed: 1}\nval_data: {kind: scenes, seed: 2}\n"
    )
    (tmp_path / "child.yaml").write_text(
        "base: base.yaml\nlr: 3.0e-5\ntrain_data: {kind: scenes, seed: 3}\n"
    )
    config = TrainConfig.from_yaml(tmp_path / "child.yaml", {"steps": 9})
    assert (config.lr, config.steps, config.objective) == (3.0e-5, 9, "monocular")
    assert config.train_data == {"kind": "scenes", "seed": 3}  # replaced, not merged
    (tmp_path / "base.yaml").write_text("base: child.yaml\n")
    with pytest.raises(ValueError, match="loop"):
        TrainConfig.from_yaml(tmp_path / "child.yaml")
    continued = TrainConfig.from_yaml(CONFIGS / "scenes_monocular_continue.yaml")
    shipped = TrainConfig.from_yaml(CONFIGS / "scenes_monocular.yaml")
    assert continued.model == shipped.model and continued.loss == shipped.loss
    assert continued.train_data["seed"] == 3 and continued.init_from == "runs/monocular/best.pt"


def test_scene_renderer_is_checked_and_auto_renders_on_the_cpu_when_training_there(
    tmp_path, monkeypatch
):
    with pytest.raises(ValueError, match="scene_renderer must be auto, cpu or cuda, got 'gpu'"):
        tiny_config("scenes_monocular", scene_renderer="gpu")
    assert tiny_config("scenes_monocular").scene_renderer == "auto"
    assert Trainer(tiny_config("scenes_monocular"), tmp_path).scene_device == "cpu"
    monkeypatch.setattr("depth_core.data.raycast_cuda.available", lambda: False)
    with pytest.raises(ValueError, match="scene_renderer cuda: numba finds no CUDA GPU"):
        Trainer(tiny_config("scenes_monocular", scene_renderer="cuda"), tmp_path / "no_gpu")
    # Forced onto a GPU, DataLoader workers are spawned: CUDA does not survive a fork.
    monkeypatch.setattr("depth_core.data.raycast_cuda.available", lambda: True)
    forced = Trainer(
        tiny_config("scenes_monocular", scene_renderer="cuda", workers=1), tmp_path / "forced"
    )
    assert forced.scene_device == "cuda"
    loader = forced.loader(list(range(8)), 2, shuffle=False, epoch=0)
    assert loader.multiprocessing_context.get_start_method() == "spawn"
    cpu_loader = Trainer(tiny_config("scenes_monocular", workers=1), tmp_path / "cpu").loader(
        list(range(8)), 2, shuffle=False, epoch=0
    )
    assert cpu_loader.multiprocessing_context is None  # the platform's default (fork here)

    # One loader for the run: its workers persist, and each epoch reseeds its sampler.
    train_set = list(range(8))
    trainer = Trainer(tiny_config("scenes_monocular", workers=1), tmp_path / "epochs")
    first = trainer.loader(train_set, 2, shuffle=True, epoch=0)
    order = [int(i) for batch in first for i in batch]
    second = trainer.loader(train_set, 2, shuffle=True, epoch=1)
    assert second is first and first.persistent_workers and second.sampler.epoch == 1
    assert sorted(int(i) for batch in second for i in batch) == sorted(order)
    assert [int(i) for batch in second for i in batch] != order  # a new permutation


@pytest.mark.parametrize("name", sorted(STEPS))
@pytest.mark.slow
def test_config_trains_saves_resumes_and_evaluates(name, tmp_path):
    torch.set_num_threads(2)
    config = tiny_config(name)
    trainer = Trainer(config, tmp_path)
    summary = trainer.fit(max_steps=config.total_steps - 2, progress=False)
    losses = summary["train_losses"]
    # Two frames, seen over and over: the last losses are well below the first ones.
    last_stage = losses[-6:]
    stage_start = (STEPS[name].get("latent_stage_steps") or [0])[0] + STEPS[name].get(
        "uncertainty_pretrain_steps", 0
    )
    first_of_last_stage = losses[stage_start:][:3]
    assert np.mean(last_stage) < 0.85 * np.mean(first_of_last_stage), losses
    assert (tmp_path / "train_state.pt").is_file() and (tmp_path / "last.pt").is_file()
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))

    resumed = Trainer(tiny_config(name), tmp_path)
    assert resumed.load_state() and resumed.step == config.total_steps - 2
    torch.testing.assert_close(resumed.model.state_dict(), trainer.model.state_dict())
    final = resumed.fit(resume=True, progress=False)
    assert final["steps"] == config.total_steps

    model, metadata = load_checkpoint(tmp_path / "last.pt")
    assert metadata.input_size == (64, 96) and metadata.training_data
    assert metadata.canonical_focal_px == config.canonical_focal_px
    assert metadata.model_config["pretrained"] is False

    evaluate = _script("evaluate")
    suite = "recovery" if name == "scenes_recovery" else "monocular"
    out = tmp_path / "eval"
    evaluate.main(
        [
            "--model",
            str(tmp_path / "last.pt"),
            "--suite",
            suite,
            "--out",
            str(out),
            "--skip-real",
            "--scenes",
            "2",
            "--mean-frames",
            "2",
            "--backend",
            "torch",
        ]
    )
    report = json.loads((out / "metrics.json").read_text())["reports"][0]
    for values in report["methods"].values():
        assert set(METRIC_NAMES) | {"mae"} <= set(values)
        assert all(np.isfinite(v) for v in values.values())
    assert set(report["ause"]) == {
        "ause_rmse",
        "ause_random_rmse",
        "ause_abs_rel",
        "ause_random_abs_rel",
    }
    baselines = {
        "monocular": {"training mean depth", "model, median-scaled"},
        "recovery": {"raw (nearest-filled)", "guided filter fill"},
    }[suite]
    assert baselines <= set(report["methods"])
    assert (out / "sparsification.png").is_file() and (out / "metrics.md").is_file()
    assert list((out / "previews").glob("*.png"))


def _script(name: str):
    """training/NAME.py as a module (its main() takes argv)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "training" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_training_scripts_name_a_bad_file_field_or_device_instead_of_a_traceback(tmp_path, capsys):
    config = str(CONFIGS / "scenes_monocular.yaml")
    out = ["--out", str(tmp_path / "run")]
    cases = [
        ("train", [str(tmp_path / "missing.yaml"), *out], "No such file"),
        ("train", [config, "--set", "stepz=3", *out], "unexpected keyword argument 'stepz'"),
        ("train", [config, "--device", "gpu", *out], "device must be cpu, cuda or cuda:N"),
        (
            "evaluate",
            ["--model", "missing.onnx", "--suite", "monocular", *out],
            "missing.onnx: no such model file",
        ),
        (
            "evaluate",
            ["--model", config, "--suite", "monocular", *out],
            "unknown model file type .yaml",
        ),
        ("calibrate_sigma", ["missing.pt", "--target", "0.97"], "missing.pt: no such model file"),
        (
            "search_loss_weights",
            [str(tmp_path / "missing.yaml"), "--random", "1", *out],
            "No such file",
        ),
    ]
    if not torch.cuda.is_available():
        cases.append(("train", [config, "--device", "cuda", *out], "torch finds no CUDA GPU"))
    for name, arguments, message in cases:
        with pytest.raises(SystemExit) as stop:
            _script(name).main(arguments)
        assert stop.value.code == 2  # argparse's usage error, not a traceback
        assert message in capsys.readouterr().err, (name, arguments)
    assert not (tmp_path / "run").exists()  # nothing was started


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_torchrun_two_gloo_processes_match_one_process(tmp_path):
    """DDP averages the gradients of two half batches; with frozen BatchNorm statistics and
    losses that are means over equally many pixels, that equals one process on the whole
    batch."""
    settings = [
        "steps=3",
        "batch_size=4",
        "workers=0",
        "lr=0.001",
        "freeze_batchnorm=true",
        "train_crop=null",
        "input_size=[64, 96]",
        "max_minutes=null",
        "val_every=100",
        "train_data={kind: scenes, count: 8, seed: 1}",
        "val_data={kind: scenes, count: 1, seed: 2}",
        "loss={kind: weighted}",
        "model={name: transfer_monocular, pretrained: false, decoder_width: 32}",
    ]
    arguments = [str(ROOT / "training" / "train.py"), str(CONFIGS / "scenes_monocular.yaml")]
    for item in settings:
        arguments += ["--set", item]
    # Loopback only: gloo picks its interface from the host name otherwise.
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    single = subprocess.run(
        [sys.executable, *arguments, "--out", str(tmp_path / "one")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert single.returncode == 0, single.stderr[-3000:]
    distributed = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            "--master_addr=127.0.0.1",
            f"--master_port={free_port()}",
            *arguments,
            "--out",
            str(tmp_path / "two"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert distributed.returncode == 0, distributed.stderr[-3000:]
    one, _ = load_checkpoint(tmp_path / "one" / "last.pt")
    two, _ = load_checkpoint(tmp_path / "two" / "last.pt")
    assert read_metadata(tmp_path / "two" / "last.pt").content_hash  # rank 0 wrote it
    one_state, two_state = one.state_dict(), two.state_dict()
    floating = [k for k, v in one_state.items() if v.dtype.is_floating_point]
    # Summation order differs between one process and two, and Adam divides each gradient by
    # its own running magnitude: a weight whose gradient is near zero moves by whatever its
    # rounding noise says, up to lr (1e-3) per step. Measured with these settings, one process
    # on 1 vs 2 threads: 2.3% of weights differ by > 2e-5, median difference 4e-7; one process
    # on other samples (what a sharding error gives): 92%, median 6e-4.
    difference = torch.cat([(two_state[k] - one_state[k]).abs().flatten() for k in floating])
    assert float((difference > 2e-5).float().mean()) < 0.2
    assert float(difference.median()) < 1e-5
    # Guard against a vacuous pass: training changed the weights.
    fresh = Trainer(
        tiny_config("scenes_monocular", model={"name": "transfer_monocular", "decoder_width": 32}),
        tmp_path / "x",
    )
    changed = [
        k
        for k, v in fresh.model.state_dict().items()
        if v.dtype.is_floating_point and not torch.equal(v, one_state[k])
    ]
    assert len(changed) > 10


@pytest.mark.slow
def test_loss_weight_search_ranks_grid_and_random_candidates(tmp_path):
    search_loss_weights = _script("search_loss_weights")
    settings = [
        "steps=2",
        "val_every=2",
        "batch_size=2",
        "workers=0",
        "train_crop=null",
        "input_size=[64, 96]",
        "max_minutes=null",
        "loss={kind: weighted}",
        "train_data={kind: scenes, count: 2, seed: 1}",
        "val_data={kind: scenes, count: 1, seed: 2}",
        "model={name: transfer_monocular, pretrained: false, decoder_width: 32}",
    ]
    arguments = [
        str(CONFIGS / "scenes_monocular.yaml"),
        "--out",
        str(tmp_path),
        "--grid",
        "edge_weight=0,0.5",
        "--random",
        "1",
    ]
    for item in settings:
        arguments += ["--set", item]
    assert search_loss_weights.main(arguments) == 0
    rows = json.loads((tmp_path / "ranking.json").read_text())
    assert len(rows) == 3
    assert [r["abs_rel"] for r in rows] == sorted(r["abs_rel"] for r in rows)
    assert {(r["mae_weight"], r["edge_weight"], r["ssim_weight"]) for r in rows[:3]} >= {
        (0.6, 0.0, 1.0),
        (0.6, 0.5, 1.0),
    }
    assert (tmp_path / "ranking.md").read_text().count("\n") == 5


def write_folder_frames(root: Path, depths_mm: list[int]) -> None:
    """Flat frames at the given depths: rgb/<i>.png and a 16-bit depth/<i>.png in mm."""
    import cv2

    (root / "rgb").mkdir(parents=True)
    (root / "depth").mkdir()
    for index, depth_mm in enumerate(depths_mm):
        texture = np.random.default_rng(index).integers(0, 255, (48, 64, 3), dtype=np.uint8)
        cv2.imwrite(str(root / "rgb" / f"{index}.png"), texture)
        cv2.imwrite(str(root / "depth" / f"{index}.png"), np.full((48, 64), depth_mm, np.uint16))


def test_mix_concatenates_parts_and_repeat_lists_each_frame_with_fresh_raw_depth(tmp_path):
    from depth_core.training.data_config import build_dataset, sample_spec

    write_folder_frames(tmp_path / "frames", [1500, 2500, 3500])
    folder = {
        "kind": "folder",
        "root": str(tmp_path / "frames"),
        "depth_scale": 1000.0,
        "intrinsics": [60.0, 60.0, 32.0, 24.0],
    }
    # Validation samples: no crop, no flip.
    spec = sample_spec(tiny_config("scenes_recovery"), needs_raw=True, training=False)
    mix = build_dataset(
        {
            "kind": "mix",
            "parts": [
                {"kind": "scenes", "count": 3, "seed": 1},
                {**folder, "limit": 2, "repeat": 4},
            ],
        },
        spec,
    )
    assert len(mix) == 3 + 2 * 4
    # Items 3..10 are the folder's first two frames, four copies each, in order.
    folder_depths = [float(mix[index]["depth"].median()) for index in range(3, 11)]
    np.testing.assert_allclose(folder_depths, [1.5, 2.5] * 4, rtol=1e-6)
    # Copies of one frame get their own raw-depth simulation, each reproducible.
    first, second = mix[3]["raw_depth"], mix[5]["raw_depth"]
    assert not torch.equal(first, second)
    torch.testing.assert_close(mix[3]["raw_depth"], first)
    # A batch is fetched part by part, the generated scenes in one call (one GPU batch when
    # they render there), and comes back in the order asked for.
    scene_part = mix.datasets[0]
    calls = []
    fetch = scene_part.__getitems__
    scene_part.__getitems__ = lambda indices: calls.append(list(indices)) or fetch(indices)
    order = [5, 2, 9, 0, 1]
    batch = mix.__getitems__(order)
    assert calls == [[2, 0, 1]]
    for index, item in zip(order, batch, strict=True):
        for key in item:
            torch.testing.assert_close(item[key], mix[index][key])

    with pytest.raises(ValueError, match="repeat must be ≥ 1"):
        build_dataset({**folder, "repeat": 0}, spec)
    with pytest.raises(ValueError, match="non-empty list `parts`"):
        build_dataset({"kind": "mix", "parts": []}, spec)


@pytest.mark.slow
def test_init_from_starts_from_a_checkpoint_and_refuses_one_that_does_not_fit(tmp_path):
    torch.set_num_threads(2)
    source = Trainer(tiny_config("scenes_monocular", steps=1), tmp_path / "source")
    source.fit(progress=False)
    checkpoint = tmp_path / "source" / "last.pt"
    trained, _ = load_checkpoint(checkpoint)

    tuned = Trainer(tiny_config("scenes_monocular", init_from=str(checkpoint)), tmp_path / "ft")
    torch.testing.assert_close(tuned.model.state_dict(), trained.state_dict())
    # Without init_from the same seed gives the untrained weights: the check above can fail.
    fresh = Trainer(tiny_config("scenes_monocular"), tmp_path / "fresh")
    assert any(
        not torch.equal(value, trained.state_dict()[key])
        for key, value in fresh.model.state_dict().items()
    )

    with pytest.raises(
        ValueError, match="a transfer_monocular checkpoint, the config builds depth_recovery"
    ):
        Trainer(tiny_config("scenes_recovery", init_from=str(checkpoint)), tmp_path / "other")
    narrow = tiny_config("scenes_monocular", init_from=str(checkpoint))
    narrow.model = {**narrow.model, "decoder_width": narrow.model.get("decoder_width", 64) // 2}
    with pytest.raises(ValueError, match="do not fit the configured model"):
        Trainer(narrow, tmp_path / "narrow")


@pytest.mark.slow
def test_warmup_ramps_the_learning_rate_linearly_then_holds_it(tmp_path):
    assert [warmup_factor(step, 4) for step in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert warmup_factor(0, 0) == 1.0
    torch.set_num_threads(2)
    trainer = Trainer(tiny_config("scenes_monocular", steps=2, warmup_steps=8), tmp_path)
    trainer.fit(progress=False)
    # The second update (step 1) ran at 2/8 of lr; a resumed run goes on from there.
    assert trainer.optimiser.param_groups[0]["lr"] == pytest.approx(TINY["lr"] * 2 / 8)


@pytest.mark.slow
def test_cosine_schedule_decays_each_stage_from_lr_to_its_floor(tmp_path):
    # Half a cosine over [10, 20): 1 at the first step, (1 + floor) / 2 halfway, the floor at
    # the end; "constant" is 1 throughout.
    assert decay_factor(10, 10, 20, "cosine", 0.0) == 1.0
    assert decay_factor(15, 10, 20, "cosine", 0.1) == pytest.approx(0.55)
    assert decay_factor(20, 10, 20, "cosine", 0.1) == pytest.approx(0.1)
    assert decay_factor(15, 10, 20, "constant", 0.1) == 1.0
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        tiny_config("scenes_monocular", lr_schedule="linear")
    torch.set_num_threads(2)
    config = tiny_config("scenes_monocular", steps=4, lr_schedule="cosine", min_lr_ratio=0.0)
    trainer = Trainer(config, tmp_path / "monocular")
    trainer.fit(progress=False)
    # The last update (step 3 of 4): (1 + cos(3π/4)) / 2 of lr.
    expected = (1 + math.cos(3 * math.pi / 4)) / 2
    assert trainer.optimiser.param_groups[0]["lr"] == pytest.approx(TINY["lr"] * expected)
    # The latent objective's second stage starts again from lr: its span is its own.
    latent = Trainer(
        tiny_config("scenes_latent", lr_schedule="cosine", latent_stage_steps=(2, 4)),
        tmp_path / "latent",
    )
    assert latent.objective.stage_span(1) == (0, 2)
    assert latent.objective.stage_span(2) == (2, 6)


def test_sharpness_jitter_blurs_or_sharpens_the_image_only_with_unit_gain():
    from depth_core.training.data_config import sample_spec
    from depth_core.training.datasets import jitter_sharpness

    image = np.random.default_rng(0).standard_normal((3, 48, 64)).astype(np.float32)
    # Each draw either blurs (less contrast) or sharpens (more); unit gain keeps the mean
    # and a flat image.
    spreads = [
        jitter_sharpness(image, np.random.default_rng(seed), 1.5, 1.0).std() for seed in range(16)
    ]
    assert min(spreads) < 0.9 * image.std() and max(spreads) > 1.1 * image.std()
    flat = np.full((3, 48, 64), 0.7, np.float32)
    np.testing.assert_allclose(
        jitter_sharpness(flat, np.random.default_rng(3), 1.5, 1.0), flat, rtol=1e-5
    )

    # In a training spec it changes the RGB alone: the same seed gives the same crop, flip and
    # raw-depth simulation as without it.
    config = tiny_config("scenes_recovery")
    plain = sample_spec(config, needs_raw=True, training=True)
    config.blur_max_px, config.sharpen_max = 1.5, 1.0
    jittered = sample_spec(config, needs_raw=True, training=True)
    validation = sample_spec(config, needs_raw=True, training=False)
    assert validation.blur_max_px == 0.0  # never on validation
    from depth_core.data.scenes import scene_frame
    from depth_core.training.datasets import to_tensors

    sample = scene_frame(1, 0, 64, 48)
    before = to_tensors(sample, plain, np.random.default_rng(5))
    after = to_tensors(sample, jittered, np.random.default_rng(5))
    for key in ("depth", "valid", "raw_depth", "misaligned"):
        torch.testing.assert_close(after[key], before[key])
    assert not torch.equal(after["rgb"], before["rgb"])


@pytest.mark.slow
def test_ema_weights_are_validated_saved_and_resumed(tmp_path):
    torch.set_num_threads(2)
    config = tiny_config("scenes_monocular", steps=2, ema_decay=0.5, val_every=1)
    first = Trainer(config, tmp_path)
    first.fit(max_steps=1, progress=False)
    after_one = {k: v.clone() for k, v in first.model.state_dict().items()}
    # The first update copies the weights: the average of one step is that step's weights.
    torch.testing.assert_close(load_checkpoint(tmp_path / "last.pt")[0].state_dict(), after_one)

    resumed = Trainer(config, tmp_path)
    resumed.fit(resume=True, progress=False)
    after_two = resumed.model.state_dict()
    saved = load_checkpoint(tmp_path / "last.pt")[0].state_dict()
    name = "encoder.conv_stem.weight"  # the first convolution: any float weight would do
    assert not torch.equal(after_two[name], after_one[name])  # step 2 moved the weights
    # decay 0.5: average = 0.5 · (step 1's weights) + 0.5 · (step 2's), across the resume.
    torch.testing.assert_close(saved[name], 0.5 * after_one[name] + 0.5 * after_two[name])
    # The model keeps training on its own weights, not the average.
    assert not torch.equal(after_two[name], saved[name])


SHARED = ROOT.parent / "shared" / "data"


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} (../shared/data) is absent")
@pytest.mark.slow
def test_real_data_config_trains_a_few_steps_on_real_frames(tmp_path, monkeypatch):
    """The shipped real-data recipe as written (its mix, its leave-one-source-out validation,
    zoom and scale-invariant real frames), a few steps at a small size."""
    monkeypatch.chdir(ROOT)  # the config names ../shared/data from the repository root
    config = TrainConfig.from_yaml(
        CONFIGS / "real_monocular.yaml",
        {
            "input_size": [64, 96],
            "train_crop": [48, 64],
            "batch_size": 4,
            "steps": 3,
            "val_every": 3,
            "max_minutes": None,
            "warmup_steps": 0,
        },
    )
    config.init_from = None  # the shipped weights are for 240x320 and need no test here
    config.model = {**config.model, "pretrained": False}
    summary = Trainer(config, tmp_path).fit(progress=False)
    assert summary["steps"] == 3 and np.isfinite(summary["history"][-1]["loss"])
    assert "7-Scenes" in read_metadata(tmp_path / "last.pt").training_data


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} (../shared/data) is absent")
@pytest.mark.slow
def test_real_recovery_config_trains_a_few_steps_on_real_sensor_depth(tmp_path, monkeypatch):
    """Self-supervised completion as the shipped recipe writes it (7-Scenes with training
    holes, generated scenes, ARC and PhoXi with the benchmark's holes), a few steps."""
    monkeypatch.chdir(ROOT)
    config = TrainConfig.from_yaml(
        CONFIGS / "real_recovery.yaml",
        {
            "input_size": [64, 96],
            "train_crop": [48, 64],
            "batch_size": 4,
            "steps": 3,
            "val_every": 3,
            "max_minutes": None,
            "warmup_steps": 0,
        },
    )
    config.init_from = None
    config.raw_simulation = {**config.raw_simulation, "capture_size": [16, 24]}
    config.model = {**config.model, "pretrained": False}
    summary = Trainer(config, tmp_path).fit(progress=False)
    assert summary["steps"] == 3 and np.isfinite(summary["history"][-1]["loss"])
    assert "self-supervised" in read_metadata(tmp_path / "last.pt").training_data


def test_self_supervised_items_score_only_what_the_input_lacks():
    from depth_core.data.sample import DepthSample
    from depth_core.data.simulation import RawDepthConfig, benchmark_holes, frame_seed
    from depth_core.geometry import Intrinsics
    from depth_core.training.datasets import SampleSpec, to_tensors

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:60, 0:80]
    depth = (1.0 + 0.6 * ((x // 20) % 2) + 0.002 * y).astype(np.float32)  # planes and steps
    depth[:, :10] = 0.0  # the sensor's own holes: never a target
    sample = DepthSample(
        rng.integers(0, 256, (60, 80, 3), dtype=np.uint8),
        depth,
        depth > 0,
        Intrinsics(100.0, 100.0, 39.5, 29.5, 80, 60),
        name="frame-7",
    )
    spec = SampleSpec((60, 80), (0.0,) * 3, (1.0,) * 3, needs_raw=True, holes="benchmark")
    item = to_tensors(sample, spec, rng)
    removed = benchmark_holes(depth, frame_seed("frame-7"))
    raw, valid = item["raw_depth"][0].numpy(), item["valid"][0].numpy()
    assert 0 < removed.sum() < (depth > 0).sum() and np.array_equal(valid, removed)
    assert np.all(raw[removed] == 0) and np.array_equal(raw[~removed], depth[~removed])
    assert np.array_equal(item["depth"][0].numpy(), depth)  # the target: the sensor's values
    # Training holes with a warp: the target is still the sensor's depth; moved pixels whose
    # value changed are labelled misaligned and scored, every kept pixel of the input is not.
    spec = SampleSpec(
        (60, 80),
        (0.0,) * 3,
        (1.0,) * 3,
        needs_raw=True,
        holes="training",
        raw=RawDepthConfig(misalignment_px=3.0, smoothness_px=4.0),
    )
    item = to_tensors(sample, spec, np.random.default_rng(5))
    raw, valid = item["raw_depth"][0].numpy(), item["valid"][0].numpy()
    misaligned = item["misaligned"][0].numpy()
    assert misaligned.any() and np.all(valid[misaligned])
    assert np.all(np.abs(raw[misaligned] - depth[misaligned]) > 0.03 * depth[misaligned])
    untouched = (raw > 0) & ~misaligned
    assert not valid[untouched].any()
    assert valid[(raw == 0) & (depth > 0)].all() and not valid[depth == 0].any()


def test_zoom_enlarges_the_frame_and_its_focal_length_with_it():
    from depth_core.data.sample import DepthSample
    from depth_core.geometry import Intrinsics
    from depth_core.training.datasets import SampleDataset, SampleSpec, to_tensors

    depth = np.full((60, 80), 2.0, np.float32)
    sample = DepthSample(
        np.zeros((60, 80, 3), np.uint8),
        depth,
        depth > 0,
        Intrinsics(100.0, 100.0, 39.5, 29.5, 80, 60),
    )
    spec = SampleSpec((30, 40), (0.0,) * 3, (1.0,) * 3, canonical_focal_px=50.0, zoom_max=2.0)
    item = to_tensors(sample, spec, np.random.default_rng(3))
    zoom = np.random.default_rng(3).uniform(1.0, 2.0)  # the first draw is the zoom
    # At 40x30 the camera has f = 50 (canonical); zoomed to whole pixels, fx and fy grow by
    # the width's and the height's factors, and the scale is their geometric mean.
    grown = math.sqrt(round(40 * zoom) / 40 * round(30 * zoom) / 30)
    assert item["focal_scale"].item() == pytest.approx(grown, rel=1e-6)
    assert item["rgb"].shape[-2:] == item["depth"].shape[-2:] == (30, 40)  # cropped back
    torch.testing.assert_close(item["depth"], torch.full((1, 30, 40), 2.0 / item["focal_scale"]))
    assert not item["scale_invariant"]
    flagged = SampleDataset([sample], spec, scale_invariant=True)[0]
    assert flagged["scale_invariant"]


def test_scale_invariant_items_teach_structure_only():
    from depth_core.losses import log_scale_alignment, silog_loss

    gt = torch.tensor([1.0, 2.0, 4.0, 8.0]).view(1, 1, 2, 2).repeat(2, 1, 1, 1)
    pred = gt * torch.tensor([2.0, 2.0]).view(2, 1, 1, 1)  # right structure, twice too far
    valid = torch.ones_like(gt, dtype=torch.bool)
    torch.testing.assert_close(
        log_scale_alignment(pred, gt, valid).flatten(), torch.tensor([0.5, 0.5])
    )
    # Image 0 scale-invariant (λ = 1): no loss; image 1 (λ = 0.85): 10·sqrt(0.15)·log 2.
    per_image = silog_loss(pred, gt, valid, torch.tensor([1.0, 0.85]).view(2, 1, 1, 1))
    assert per_image.item() == pytest.approx((0 + 10 * math.sqrt(0.15) * math.log(2)) / 2, rel=1e-3)


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} (../shared/data) is absent")
@pytest.mark.slow
def test_sigma_calibration_on_real_validation_sources_reaches_its_target(tmp_path):
    from depth_core.checkpoint import describe
    from depth_core.export.onnx import save_and_export
    from depth_core.models import build_model
    from depth_core.real_benchmark import VALIDATION_SETS

    torch.manual_seed(0)
    model = build_model("transfer_monocular", pretrained=False).eval()
    checkpoint = tmp_path / "mono.pt"
    save_and_export(
        model,
        checkpoint,
        describe(model, (64, 96), canonical_focal_px=60.0, training_data="none (test)"),
    )
    calibrate = _script("calibrate_sigma")
    assert (
        calibrate.main([str(checkpoint), "--real", "--target", "0.9", "--shared", str(SHARED)]) == 0
    )
    metadata = read_metadata(checkpoint)
    calibration = metadata.metrics["sigma_calibration"]
    assert metadata.relative_sigma == calibration["relative_sigma"] > 0
    assert metadata.sigma_scale == 1.0 and metadata.plane_relative_sigma >= 0
    assert set(calibration["safe_share_reached"]) == set(VALIDATION_SETS)
    assert min(calibration["safe_share_reached"].values()) >= 0.9
    from depth_core.runtime import DepthEstimator

    onnx = DepthEstimator.load(checkpoint.with_suffix(".onnx"))  # what the node loads
    assert onnx.metadata.relative_sigma == metadata.relative_sigma


def test_each_objective_owns_its_stages_and_what_trains_in_them():
    from depth_core.models import build_model
    from depth_core.training.objectives import make_objective

    recovery = tiny_config("scenes_recovery", uncertainty_pretrain_steps=4, steps=10)
    model = build_model("depth_recovery", pretrained=False)
    objective = make_objective(model, recovery)
    assert objective.needs_raw and [objective.stage(s) for s in (0, 3, 4, 9)] == [1, 1, 2, 2]
    assert objective.stage_span(2) == (0, 4) and objective.stage_span(7) == (4, 10)
    objective.configure_stage(1)  # the structure-uncertainty module alone
    trains = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trains and all(name.startswith("uncertainty.") for name in trains)
    objective.configure_stage(2)
    assert all(p.requires_grad for p in model.parameters())
    latent = tiny_config("scenes_latent", steps=10, latent_stage_steps=[3, 7])
    objective = make_objective(build_model("latent_dual", pretrained=False), latent)
    assert objective.stage_span(1) == (0, 3) and objective.stage_span(3) == (3, 10)
    monocular = make_objective(
        build_model("transfer_monocular", pretrained=False),
        tiny_config("scenes_monocular", steps=10),
    )
    assert not monocular.needs_raw and monocular.stage_span(0) == (0, 10)
