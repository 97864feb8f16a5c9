"""Bad input to the trainer and the terminal tools: one line, the right exit code, nothing lost.

Each list of the reliability issue has its own parametrised test: options that would lose training
work, export targets, interrupted and killed runs, and the terminal generator's inputs."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import REFERENCE_RUN_ARGS, TINY_TRAIN

ROOT = Path(__file__).resolve().parent.parent
TINY = TINY_TRAIN
RUN_ARGS = REFERENCE_RUN_ARGS  # what the session's reference_run was trained with
ROOT_USER = hasattr(os, "geteuid") and os.geteuid() == 0  # root writes into read-only folders


def run_module(module: str, *args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, **kw)


def assert_one_line(result: subprocess.CompletedProcess, code: int = 2, *words: str) -> None:
    err = result.stderr.strip()
    assert result.returncode == code, f"exit {result.returncode}, expected {code}:\n{result.stderr[-2000:]}"
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    for word in words:
        assert word in err, err


def fingerprint(run: Path) -> dict[str, str]:
    """Every file of a run folder -> its content hash (what must survive a refused command)."""
    return {str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(run.rglob("*")) if p.is_file()}


def log_steps(run: Path) -> list[int]:
    return [r["step"] for r in map(json.loads, (run / "log.jsonl").read_text().splitlines()) if "loss_d" in r]


def weights(ckpt: Path) -> dict:
    return torch.load(ckpt, weights_only=True)


def assert_same_weights(a: dict, b: dict) -> None:
    assert a["step"] == b["step"]
    for key in ("G", "D", "ema"):
        for name in a[key]:
            torch.testing.assert_close(a[key][name], b[key][name], atol=0, rtol=0, msg=f"{key}.{name}")


# ---------------------------------------------------------------- losing work

def photo_folder(tmp: Path) -> Path:
    from PIL import Image
    folder = tmp / "photos"
    folder.mkdir()
    Image.effect_noise((96, 96), 40).convert("RGB").save(folder / "gravel.png")
    return folder


REFUSED = {
    "keep -1": (["--keep", "-1"], "--keep"),
    "keep 0": (["--keep", "0"], "--keep"),
    "eval-count 0": (["--eval-count", "0"], "--eval-count"),
    "ckpt-every 0": (["--ckpt-every", "0"], "--ckpt-every"),
    "sample-every 0": (["--sample-every", "0"], "--sample-every"),
    "periods 0": (["--periods", "0"], "--periods"),
    "channels ,": (["--channels", ","], "--channels"),
    "lr-g changed": (["--lr-g", "0.5"], "--lr-g"),
    "preset changed": (["--preset", "wood_planks"], "--preset"),
    "data changed": (["--data", "PHOTOS"], "--data"),
    "seed changed": (["--seed", "7"], "--seed"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_bad_or_changed_option_is_refused_before_training_and_loses_nothing(run_copy, case):
    extra, named = REFUSED[case]
    before = fingerprint(run_copy)
    if "PHOTOS" in extra:
        extra = [str(photo_folder(run_copy.parent)) if a == "PHOTOS" else a for a in extra]
    source = [] if extra[0] in ("--preset", "--data") else ["--preset", "bricks"]
    args = ["train", "--out", run_copy, *source, "--steps", "4", "--eval-every", "0", *TINY, *extra]
    assert_one_line(run_module("trainer", *args), 2, named)
    assert fingerprint(run_copy) == before


KINDS = {"generator": ["--preset", "bricks"], "vae": ["--kind", "vae", "--preset", "bricks"],
         "translator": ["--kind", "translator", "--data", "DATA"],
         "cyclegan": ["--kind", "cyclegan", "--data-a", "DATA", "--data-b", "DATA"]}


def train_without_torch(args: list) -> subprocess.CompletedProcess:
    """`trainer train ARGS` with torch unimportable (importing it would fail with a traceback)."""
    code = ("import sys; sys.modules['torch'] = None; from trainer.__main__ import main; "
            f"sys.exit(main(['train', *{[str(a) for a in args]!r}]))")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_file_as_the_run_folder_or_a_bad_option_is_refused_before_torch_loads(tmp_path, kind):
    """`trainer train --out FILE` and a bad option say so in one line without importing torch, for every
    kind of run, and the file is untouched."""
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    args = [tmp_path if a == "DATA" else a for a in KINDS[kind]]
    assert_one_line(train_without_torch(["--out", a_file, *args]), 2, "is a file", "--out")
    assert a_file.read_text() == "mine"
    assert_one_line(train_without_torch(["--out", tmp_path / "run", *args, "--batch", "0"]), 2, "--batch")
    assert not (tmp_path / "run").exists()


def test_a_longer_run_resumes_and_resume_with_changes_is_recorded(run_copy):
    result = run_module("trainer", "train", "--out", run_copy, "--preset", "bricks", "--steps", "3",
                        "--eval-every", "0", *TINY)
    assert result.returncode == 0 and "resuming" in result.stderr
    command = json.loads((run_copy / "options.json").read_text())["command"]
    assert "--steps 2" in command  # the run's own command line is kept
    result = run_module("trainer", "train", "--out", run_copy, "--preset", "bricks", "--steps", "4",
                        "--eval-every", "0", *TINY, "--lr-g", "0.001", "--resume-with-changes")
    assert result.returncode == 0, result.stderr[-2000:]
    notes = [json.loads(l) for l in (run_copy / "log.jsonl").read_text().splitlines() if "resumed_from_step" in l]
    assert notes[-1]["changes"] == {"lr_g": [0.0002, 0.001]}
    state = weights(sorted((run_copy / "checkpoints").glob("ckpt-*.pt"))[-1])
    assert state["step"] == 4 and state["opt_g"]["param_groups"][0]["lr"] == 0.001


def test_ctrl_c_then_resume_equals_an_uninterrupted_run(reference_run, tmp_path):
    run = tmp_path / "interrupted"
    proc = subprocess.Popen([sys.executable, "-m", "trainer", "train", "--out", str(run), *RUN_ARGS], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(log_steps(run) if (run / "log.jsonl").exists() else []) < 7:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err and "interrupted: saved step" in err
    stopped_at = weights(sorted((run / "checkpoints").glob("ckpt-*.pt"))[-1])["step"]
    assert 7 <= stopped_at < 40, "the signal came too late to test a resume"
    result = run_module("trainer", "train", "--out", run, *RUN_ARGS)
    assert result.returncode == 0, result.stderr[-2000:]
    assert_same_weights(weights(reference_run / "checkpoints" / "ckpt-00000040.pt"),
                        weights(run / "checkpoints" / "ckpt-00000040.pt"))
    assert log_steps(run) == list(range(1, 41))
    losses = lambda r: [(x["loss_d"], x["loss_g"]) for x in map(json.loads, (r / "log.jsonl").read_text().splitlines())
                        if "loss_d" in x]
    assert losses(run) == losses(reference_run)


def test_kill_9_then_resume_logs_each_step_once_and_cleans_partial_files(reference_run, tmp_path):
    run = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "trainer", "train", "--out", str(run), *RUN_ARGS], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (list((run / "checkpoints").glob("ckpt-*.pt"))
                                          and len(log_steps(run)) >= 8):
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (run / "checkpoints" / "ckpt-00000099.pt.part").write_bytes(b"half a checkpoint")
    result = run_module("trainer", "train", "--out", run, *RUN_ARGS)
    assert result.returncode == 0, result.stderr[-2000:]
    assert log_steps(run) == list(range(1, 41))
    assert not list(run.rglob("*.part"))
    assert_same_weights(weights(reference_run / "checkpoints" / "ckpt-00000040.pt"),
                        weights(run / "checkpoints" / "ckpt-00000040.pt"))


def test_a_garbage_newest_checkpoint_falls_back_to_the_newest_good_one(run_copy, tmp_path):
    good = sorted((run_copy / "checkpoints").glob("ckpt-*.pt"))
    (run_copy / "checkpoints" / "ckpt-99999999.pt").write_bytes(b"not a checkpoint at all")
    model = tmp_path / "m.safetensors"
    exported = run_module("trainer", "export", run_copy, "--out", model, "--no-metrics")
    assert exported.returncode == 0 and "ckpt-99999999.pt" in exported.stderr and model.exists()
    resumed = run_module("trainer", "train", "--out", run_copy, "--preset", "bricks", "--steps", "3",
                         "--eval-every", "0", "--keep", "1", *TINY)
    assert resumed.returncode == 0 and "unreadable" in resumed.stderr and "Traceback" not in resumed.stderr
    assert weights(run_copy / "checkpoints" / "ckpt-00000003.pt")["step"] == 3
    assert (run_copy / "checkpoints" / "ckpt-99999999.pt.unreadable").exists()  # kept aside, not deleted
    assert good  # the run had good checkpoints to fall back to


def test_an_existing_model_is_not_overwritten_without_force(run_copy, tmp_path):
    model = tmp_path / "m.safetensors"
    model.write_bytes(b"somebody's model")
    assert_one_line(run_module("trainer", "export", run_copy, "--out", model, "--no-metrics"), 2, "--force")
    assert model.read_bytes() == b"somebody's model"
    forced = run_module("trainer", "export", run_copy, "--out", model, "--no-metrics", "--force")
    assert forced.returncode == 0 and model.read_bytes() != b"somebody's model"
    folder = tmp_path / "folder.safetensors"
    folder.mkdir()
    assert_one_line(run_module("trainer", "export", run_copy, "--out", folder, "--no-metrics"), 2, "folder")
    assert not list(tmp_path.rglob("*.part"))


# ---------------------------------------------------------------- saying what happened: trainer

def _trainer_cases(tmp: Path, run: Path) -> dict[str, list]:
    a_file = tmp / "a_file"
    a_file.write_text("x")
    cases = {
        "train --out a file": ["train", "--out", a_file, "--preset", "bricks", "--steps", "1", *TINY],
        "train --out inside a file": ["train", "--out", a_file / "run", "--preset", "bricks", "--steps", "1", *TINY],
        "export --out inside a file": ["export", run, "--out", a_file / "m.safetensors", "--no-metrics"],
        "export a folder without checkpoints": ["export", tmp, "--out", tmp / "m.safetensors", "--no-metrics"],
        "data --size 0": ["data", "--preset", "bricks", "--size", "0", "--out", tmp / "d"],
        "data --count 0": ["data", "--preset", "bricks", "--count", "0", "--out", tmp / "d"],
    }
    if not ROOT_USER:
        locked = tmp / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        cases["train --out in a read-only folder"] = ["train", "--out", locked / "run", "--preset", "bricks", *TINY]
        cases["export --out in a read-only folder"] = ["export", run, "--out", locked / "m.safetensors",
                                                       "--no-metrics"]
    return cases


def test_trainer_bad_paths_and_values_give_one_line(run_copy, tmp_path):
    for name, args in _trainer_cases(tmp_path, run_copy).items():
        result = run_module("trainer", *args)
        assert result.returncode == 2, f"{name}: exit {result.returncode}\n{result.stderr[-1500:]}"
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, \
            f"{name}: {result.stderr[-1500:]}"


# ---------------------------------------------------------------- saying what happened: generate

def no_torch_python(tmp_path: Path, block: str = "torch") -> Path:
    """An 'interpreter' that is this Python with `block` unimportable, for the external engine."""
    script = tmp_path / f"python-without-{block}"
    script.write_text(f"#!{sys.executable}\nimport sys\nsys.modules[{block!r}] = None\n"
                      "code = sys.argv[2]\nsys.argv = ['-c'] + sys.argv[3:]\nexec(code)\n")
    script.chmod(0o755)
    return script


GENERATE = ["generate", "--model", "stone_wall", "--size", "64"]


def _generate_cases(tmp: Path) -> dict[str, tuple[list, str]]:
    a_file = tmp / "a_file.png"
    a_file.write_text("x")
    return {
        "seed -1": ([*GENERATE, "--seed", "-1", "--out", tmp / "o"], "Seed"),
        "out is a file": ([*GENERATE, "--out", a_file], "is a file"),
        "out inside a file": ([*GENERATE, "--out", a_file / "maps"], "cannot write"),
        "name with a folder": ([*GENERATE, "--name", "a/b", "--out", tmp / "o"], "--name"),
        "name climbing out": ([*GENERATE, "--name", "../x", "--out", tmp / "o"], "--name"),
        "external without --python": ([*GENERATE, "--engine", "external", "--out", tmp / "o"], "--python"),
        "numpy engine on cuda": ([*GENERATE, "--engine", "numpy", "--device", "cuda", "--out", tmp / "o"], "cuda"),
        "external, cuda, no torch there": ([*GENERATE, "--engine", "external", "--python", no_torch_python(tmp),
                                           "--device", "cuda", "--out", tmp / "o"], "cuda"),
        "external worker dies": ([*GENERATE, "--engine", "external", "--python", no_torch_python(tmp, "numpy"),
                                  "--out", tmp / "o"], "numpy"),
    }


@pytest.mark.parametrize("case", ["seed -1", "out is a file", "out inside a file", "name with a folder",
                                  "name climbing out", "external without --python", "numpy engine on cuda",
                                  "external, cuda, no torch there", "external worker dies"])
def test_generate_bad_input_gives_one_line(tmp_path, case):
    args, word = _generate_cases(tmp_path)[case]
    assert_one_line(run_module("blender_texgan", *args), 2, word)
    assert not (tmp_path / "x_albedo.png").exists() and not list(tmp_path.rglob("*_albedo.png"))


def test_generate_asks_for_cuda_without_torch_fails_instead_of_running_on_the_cpu(tmp_path):
    code = ("import sys; sys.modules['torch'] = None; from blender_texgan.__main__ import main; "
            f"sys.exit(main(['generate', '--size', '64', '--device', 'cuda', '--out', {str(tmp_path)!r}]))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert_one_line(result, 2, "cuda", "PyTorch")
    assert not list(tmp_path.iterdir())


def test_generate_with_external_python_from_the_terminal(tmp_path):
    result = run_module("blender_texgan", *GENERATE, "--engine", "external", "--python", sys.executable,
                        "--out", tmp_path, "--name", "ext")
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"ext_{m}.png" for m in
                                                          ("albedo", "height", "normal", "roughness")]


def test_ctrl_c_during_generate_exits_130_in_one_line(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "blender_texgan", "generate", "--size", "8192",
                             "--engine", "numpy", "--out", str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(4)  # well past start-up, well before an 8192² set is done on a CPU
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err and err.strip() == "interrupted"
    assert not list(tmp_path.iterdir())
