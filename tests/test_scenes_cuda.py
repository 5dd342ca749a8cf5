"""The scene generator's batched GPU path (`render_batch`, `depth_core/data/raycast_cuda.py`).

Without a GPU these checks still run: the kernels execute in numba's CUDA simulator and must give
the CPU renderer's frames, and they compile to PTX for an H100 (sm_90) and, where CUDA's ptxas
is installed, assemble. On a machine with a GPU the
last test renders on it."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from depth_core.data import raycast_cuda


def _run_python(code: str, **environment: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **environment},
    )


def test_simulated_gpu_batch_gives_the_cpu_frames():
    # Pure Python on both sides (NUMBA_DISABLE_JIT): the simulator cannot call compiled CPU
    # functions. Three scenes with different shape counts test the padding; the third
    # frame comes from a trajectory with a shared rng, which must advance as on the CPU.
    result = _run_python(
        """
        import json
        import numpy as np
        from depth_core.data.scene_render import render_batch
        from depth_core.data.scenes import random_scene, scene_frame_seed

        scenes = [random_scene(scene_frame_seed(7, i), 24, 18) for i in range(2)]
        scenes.append(random_scene(11, 24, 18, frames=3, layout="tabletop"))
        views = [(scenes[0], scenes[0].cameras[0], None), (scenes[1], scenes[1].cameras[0], None),
                 (scenes[2], scenes[2].cameras[2], np.random.default_rng(5))]
        batch = render_batch(views)
        rows = []
        for (scene, camera, rng), gpu in zip(views, batch):
            cpu = scene.render(camera, np.random.default_rng(5) if rng is not None else None)
            rows.append({"shapes": len(scene.shapes),
                         "depth": float(np.abs(cpu.depth - gpu.depth).max()),
                         "rgb": int(np.abs(cpu.rgb.astype(int) - gpu.rgb).max()),
                         "valid": bool((cpu.valid == gpu.valid).all()),
                         "hits": int(cpu.valid.sum()), "rgb_std": float(cpu.rgb.std())})
        try:
            render_batch([views[0], (scenes[1], random_scene(1, 32, 24).cameras[0], None)])
            rows.append("no error")
        except ValueError as error:
            rows.append(str(error))
        print(json.dumps(rows))
        """,
        NUMBA_DISABLE_JIT="1",
        NUMBA_ENABLE_CUDASIM="1",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    *frames, size_error = json.loads(result.stdout.splitlines()[-1])
    assert len({frame["shapes"] for frame in frames}) > 1  # padding was exercised
    for frame in frames:
        assert frame["hits"] > 0 and frame["rgb_std"] > 1  # real content, not blank frames
        assert frame == {**frame, "depth": 0.0, "rgb": 0, "valid": True}
    assert "one image size" in size_error


@pytest.mark.slow
def test_a_training_data_set_rendering_on_the_gpu_gives_the_cpu_batches():
    # SceneDataset's batch fetch (__getitems__) through a DataLoader, with raw-depth
    # simulation, crops and flips drawn from the same per-frame seeds.
    result = _run_python(
        """
        import torch
        from torch.utils.data import DataLoader
        from depth_core.data.simulation import RawDepthConfig
        from depth_core.data import raycast_cuda
        from depth_core.training.datasets import SampleSpec, SceneDataset

        batches = []  # frames per GPU launch
        trace = raycast_cuda.trace_primary
        raycast_cuda.trace_primary = lambda *a: batches.append(len(a[1])) or trace(*a)
        spec = SampleSpec((18, 24), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), 20.0,
                          raw=RawDepthConfig(), needs_raw=True, flip=True, crop=(16, 20))
        loaders = [DataLoader(SceneDataset(4, 9, spec, device), batch_size=2)
                   for device in ("cpu", "cuda")]
        for cpu, gpu in zip(*loaders, strict=True):
            assert cpu.keys() == gpu.keys()
            for key in cpu:
                assert torch.equal(cpu[key], gpu[key]), key
        print("same", sorted(cpu), "batches", batches)
        """,
        NUMBA_DISABLE_JIT="1",
        NUMBA_ENABLE_CUDASIM="1",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "same" in result.stdout and "raw_depth" in result.stdout, result.stdout
    assert result.stdout.strip().endswith("batches [2, 2]"), result.stdout


@pytest.mark.slow
def test_training_with_scenes_rendered_on_the_gpu_runs_in_spawned_workers(tmp_path):
    # scene_renderer: cuda with a DataLoader worker: the trainer spawns it (CUDA does not
    # survive a fork); the simulated GPU renders every batch there. A script, not `-c`: a
    # spawned worker re-imports the main module.
    script = tmp_path / "train_on_gpu_scenes.py"
    script.write_text(
        textwrap.dedent(
            """
        import sys
        from depth_core.training.config import TrainConfig
        from depth_core.training.trainer import Trainer

        def main():
            config = TrainConfig.from_yaml(sys.argv[1], {
                "input_size": [24, 32], "train_crop": None, "batch_size": 2, "workers": 1,
                "steps": 2, "val_every": 2, "scene_renderer": "cuda",
                "train_data": {"kind": "scenes", "count": 4, "seed": 1},
                "val_data": {"kind": "scenes", "count": 2, "seed": 2}})
            config.model = {**config.model, "pretrained": False}
            trainer = Trainer(config, sys.argv[2])
            summary = trainer.fit(progress=False)
            print("scenes on", trainer.scene_device, "steps", summary["steps"],
                  "validation loss", summary["history"][-1]["loss"])

        if __name__ == "__main__":
            main()
        """
        )
    )
    config = Path(__file__).resolve().parents[1] / "training/configs/scenes_monocular.yaml"
    result = subprocess.run(
        [sys.executable, str(script), str(config), str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NUMBA_DISABLE_JIT": "1", "NUMBA_ENABLE_CUDASIM": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    words = result.stdout.split()
    assert words[:5] == ["scenes", "on", "cuda", "steps", "2"], result.stdout
    assert np.isfinite(float(words[-1]))
    assert (tmp_path / "run" / "best.pt").is_file()


@pytest.mark.slow
def test_gpu_kernels_compile_to_ptx_and_assemble_for_an_h100(tmp_path):
    # Compile only. numba asks the current device for its compute capability when it
    # compiles a called function; with no GPU here, the test answers for an H100 (sm_90).
    # Where CUDA's assembler is installed, the PTX is assembled too (registers, spills).
    result = _run_python(
        """
        import glob, os, shutil, subprocess, types
        from numba import cuda
        from numba.cuda import dispatcher
        from numba.core import types as nb
        from depth_core.data import raycast_cuda as kernels

        dispatcher.get_current_device = lambda: types.SimpleNamespace(compute_capability=(9, 0))
        f8, f4, i8, i4 = nb.float64, nb.float32, nb.int64, nb.int32

        def a(dtype, ndim):
            return nb.Array(dtype, ndim, "C")

        shapes = [a(i8, 2), a(f8, 3), a(f8, 3), a(f8, 2), a(f8, 2)]
        signatures = {
            "primary_kernel": [a(f8, 3), a(f8, 2), a(f8, 2), a(i8, 1), *shapes, a(f8, 3),
                               a(f8, 2), a(f4, 3), a(i4, 3), a(f8, 4)],
            "shadow_kernel": [a(f8, 2), a(f8, 4), a(f4, 3), a(f8, 3), a(i8, 1), *shapes,
                              a(f4, 3)],
            "shade_kernel": [a(f8, 2), a(f8, 4), a(f4, 3), a(i4, 3), a(f4, 3), a(f8, 4),
                             *shapes, a(f4, 3), a(i8, 1), a(i8, 2), a(f8, 3), a(f8, 2),
                             a(f8, 2), a(f8, 2), a(f8, 2), a(f8, 2), a(f4, 4)],
        }
        found = glob.glob(os.environ.get("CUDA_HOME", "/nowhere") + "/bin/ptxas")
        found += sorted(glob.glob("/usr/local/cuda*/bin/ptxas"))
        ptxas = shutil.which("ptxas") or (found[0] if found else None)
        for name, arguments in signatures.items():
            try:
                ptx, _ = cuda.compile_ptx(getattr(kernels, name).py_func, tuple(arguments),
                                          cc=(9, 0))
            except Exception as error:
                if "NVVM" in str(error) or "libnvvm" in str(error).lower():
                    print("NO_NVVM", error)
                    raise SystemExit(0)
                raise
            print(name, ".entry" in ptx, len(ptx))
            if ptxas:
                path = os.path.join(os.environ["PTX_DIR"], name + ".ptx")
                open(path, "w").write(ptx)
                done = subprocess.run([ptxas, "-arch=sm_90", "-v", path, "-o", path + ".cubin"],
                                      capture_output=True, text=True)
                usage = [line for line in done.stderr.splitlines() if "registers" in line]
                print("ASSEMBLED" if done.returncode == 0 else "PTXAS_FAILED", name, usage,
                      done.stderr[-2000:] if done.returncode else "")
        """,
        PTX_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    if "NO_NVVM" in result.stdout:
        pytest.skip(f"no CUDA NVVM compiler on this machine: {result.stdout.strip()[:300]}")
    lines = result.stdout.split("\n")
    print(result.stdout)
    assert "PTXAS_FAILED" not in result.stdout, result.stdout
    for name in ("primary_kernel", "shadow_kernel", "shade_kernel"):
        assert any(line.startswith(f"{name} True") for line in lines), result.stdout


@pytest.mark.skipif(
    not raycast_cuda.available(), reason="no CUDA GPU visible to numba (CI machines have none)"
)
def test_gpu_batch_matches_the_cpu_renderer_at_full_size():
    from depth_core.data.scenes import scene_frame, scene_frames

    indices = list(range(6))
    gpu = scene_frames(3, indices, device="cuda")
    for index, frame in zip(indices, gpu, strict=True):
        cpu = scene_frame(3, index)
        depth_error = np.abs(cpu.depth - frame.depth)
        rgb_error = np.abs(cpu.rgb.astype(int) - frame.rgb)
        print(f"frame {index}: depth {depth_error.max():.1e} m, RGB {rgb_error.mean():.3f}")
        # The GPU rounds differently (fused multiply-adds, its own exp and log2): the same
        # frame to float32 precision, a rare pixel on a silhouette aside.
        assert np.mean(depth_error <= 1e-5) > 0.999
        assert rgb_error.mean() < 0.5 and np.mean(rgb_error <= 2) > 0.99
