"""Every trainer (generator, VAE, photo translator, CycleGAN) keeps its work and its run folder:
Ctrl-C saves the exact step and a rerun resumes it without duplicated log lines, a run folder of
another kind is refused untouched, bad options are one line before any work, and a small photo
folder gets a time budget so that the default run ends by itself."""
from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from trainer.data import write_material
from trainer.procedural import make_material

ROOT = Path(__file__).resolve().parent.parent
GEN_TINY = ["--crop", "32", "--batch", "2", "--channels", "16,12,8", "--local-channels", "8",
            "--global-channels", "4", "--pool-count", "4", "--pool-size", "64", "--eval-count", "8",
            "--eval-every", "0", "--device", "cpu"]
TRANSLATOR_TINY = ["--batch", "2", "--crop", "64", "--channels", "4,8,8", "--device", "cpu"]
CYCLEGAN_TINY = ["--batch", "2", "--crop", "32", "--channels", "8,16", "--downsample", "1", "--device", "cpu"]


# ---------------------------------------------------------------- tiny data and commands

@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """PBR sets for the translator (albedo + normal), two materials for CycleGAN, and one photo."""
    root = tmp_path_factory.mktemp("data")
    for i in range(2):
        write_material(root / "pbr", f"bricks_{i:03d}", make_material("bricks", i, 96))
    for side, tint, seeds in (("a", (0.8, 0.8, 0.85), (0, 1)), ("b", (1.0, 0.45, 0.2), (2, 3))):
        for seed in seeds:
            maps = make_material("bricks", seed, 96)
            maps["albedo"] = np.clip(maps["albedo"] * np.float32(tint), 0, 1)
            write_material(root / side, f"m{seed:02d}", {k: maps[k] for k in ("albedo", "roughness", "height")})
    write_material(root / "photo", "wall", {"albedo": make_material("cobblestones", 3, 96)["albedo"]})
    return root


def train_args(kind: str, data: Path, run: Path) -> list[str]:
    if kind == "translator":
        return ["train", "--kind", "translator", "--data", str(data / "pbr"), "--out", str(run), *TRANSLATOR_TINY]
    if kind == "cyclegan":
        return ["train", "--kind", "cyclegan", "--data-a", str(data / "a"), "--data-b", str(data / "b"),
                "--out", str(run), *CYCLEGAN_TINY]
    extra = ["--kind", "vae"] if kind == "vae" else []
    return ["train", *extra, "--preset", "bricks", "--out", str(run), "--sample-every", "1000", *GEN_TINY]


def logged_steps(run: Path) -> list[int]:
    return [r["step"] for r in map(json.loads, (run / "log.jsonl").read_text().splitlines()) if "step" in r]


def newest_step(run: Path) -> int:
    ckpt = sorted((run / "checkpoints").glob("ckpt-*.pt"))[-1]
    return int(torch.load(ckpt, weights_only=True)["step"])


def wait_for_log_lines(proc, run: Path, lines: int, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    log = run / "log.jsonl"
    while time.time() < deadline and proc.poll() is None:
        if log.exists() and len(logged_steps(run)) >= lines:
            return
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"the trainer logged fewer than {lines} steps: {proc.communicate()[1][-2000:]}")


def folder_hashes(run: Path) -> dict[str, str]:
    return {str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(run.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- Ctrl-C and resume

@pytest.mark.slow
@pytest.mark.parametrize("kind", ["translator", "cyclegan"])
def test_ctrl_c_saves_the_exact_step_and_the_rerun_resumes_it(kind, data, tmp_path, capsys):
    from trainer.__main__ import main

    run = tmp_path / "run"
    args = train_args(kind, data, run) + ["--log-every", "1", "--ckpt-every", "100000"]
    proc = subprocess.Popen([sys.executable, "-m", "trainer", *args, "--steps", "100000"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_log_lines(proc, run, 3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err[-2000:]
    reached = logged_steps(run)[-1]
    assert newest_step(run) == reached >= 3
    assert f"saved step {reached}" in err and "rerun the same command to resume" in err
    assert main([*args, "--steps", str(reached + 2)]) == 0  # the rerun, in this process (torch is loaded)
    resumed = capsys.readouterr()
    assert f"at step {reached}" in resumed.out + resumed.err
    assert logged_steps(run) == list(range(1, reached + 3))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["generator", "translator", "cyclegan"])
def test_a_resume_after_a_kill_logs_each_step_once(kind, data, tmp_path, capsys):
    from trainer.__main__ import main

    run = tmp_path / "run"
    every = ["--ckpt-every", "2"] + ([] if kind == "generator" else ["--log-every", "1"])
    args = train_args(kind, data, run) + every
    proc = subprocess.Popen([sys.executable, "-m", "trainer", *args, "--steps", "100000"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for_log_lines(proc, run, 5)
    proc.kill()
    proc.communicate()
    reached = logged_steps(run)[-1]
    assert main([*args, "--steps", str(reached + 2)]) == 0, capsys.readouterr().err  # the rerun, in this process
    assert logged_steps(run) == list(range(1, reached + 3))


# ---------------------------------------------------------------- run folders of another kind

@pytest.mark.slow
def test_a_run_folder_of_another_kind_is_refused_and_left_byte_identical(data, tmp_path, capsys):
    from trainer.__main__ import main

    kinds = ("generator", "vae", "translator", "cyclegan")
    runs = {kind: tmp_path / kind for kind in kinds}
    for kind, run in runs.items():
        assert main(train_args(kind, data, run) + ["--steps", "2"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    for kind, run in runs.items():
        before = folder_hashes(run)
        for other in kinds:
            if other == kind:
                continue
            assert main(train_args(other, data, run) + ["--steps", "3"]) == 2
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1 and f"'{run}' is a {kind} run" in err[0], (kind, other, err)
            assert "choose a new --out" in err[0]
            assert folder_hashes(run) == before, (kind, other)


@pytest.mark.slow
def test_exporting_a_translator_or_cyclegan_run_says_where_its_model_is(data, tmp_path, capsys):
    from trainer.__main__ import main

    for kind, model in (("translator", "model.safetensors"), ("cyclegan", "a_to_b.safetensors")):
        run = tmp_path / kind
        assert main(train_args(kind, data, run) + ["--steps", "2"]) == 0
        capsys.readouterr()
        assert main(["export", str(run), "--out", str(tmp_path / f"{kind}.safetensors")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"is a {kind} run" in err[0] and model in err[0], err
        assert "no readable checkpoint" not in err[0]


# ---------------------------------------------------------------- option checks

BAD_TRANSLATOR = [["--max-minutes", "-1"], ["--normal-weight", "nan"], ["--lr", "nan"], ["--gan", "inf"],
                  ["--channels", "0,0"], ["--holdout", "nosuchset"], ["--steps", "0"], ["--log-every", "0"]]
BAD_CYCLEGAN = [["--max-minutes", "-1"], ["--cycle", "nan"], ["--identity", "-1"], ["--gan", "nan"],
                ["--lr", "0"], ["--channels", "0,0"], ["--threads", "-1"], ["--seed", "-1"]]


@pytest.mark.parametrize("kind,bad", [("translator", b) for b in BAD_TRANSLATOR]
                         + [("cyclegan", b) for b in BAD_CYCLEGAN])
def test_bad_translator_and_cyclegan_options_are_one_line_before_any_work(kind, bad, data, tmp_path, capsys):
    from trainer.__main__ import main

    run = tmp_path / "run"
    assert main(train_args(kind, data, run) + bad) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and bad[0] in err[0], err
    assert not run.exists()


def test_a_translator_without_pbr_sets_says_so(data, tmp_path, capsys):
    from trainer.__main__ import main

    run = tmp_path / "run"
    args = ["train", "--kind", "translator", "--data", str(data / "photo"), "--out", str(run), *TRANSLATOR_TINY]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no PBR sets" in err[0] and "albedo and a normal" in err[0], err
    assert not run.exists()


def test_eval_count_and_an_empty_review_are_refused(tmp_path, capsys):
    from trainer.__main__ import main

    for count in ("0", "-2"):
        assert main(["eval", "rock", "--preset", "bricks", "--count", count]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--count must be at least" in err[0], err
    for text in ("", "   "):
        assert main(["review", str(tmp_path / "m.safetensors"), text]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "review" in err[0] and "empty" in err[0], err


@pytest.mark.slow
def test_resuming_a_run_past_its_budget_says_so_and_where_its_checkpoint_is(tmp_path, capsys):
    from trainer.__main__ import main

    run = tmp_path / "run"
    args = train_args("generator", tmp_path, run) + ["--max-minutes", "0.0001"]
    assert main(args) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(args) == 0
    again = capsys.readouterr().err
    assert "saved None" not in again
    assert "already reached its time budget" in again and "ckpt-" in again, again


# ---------------------------------------------------------------- a default budget for small data

def _dry_run(capsys, *args) -> tuple[dict, str]:
    """`trainer train ARGS --dry-run` in this process (torch is imported once): (options, stderr)."""
    from trainer.__main__ import main

    assert main(["train", *args, "--dry-run"]) == 0, capsys.readouterr().err
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


def test_a_small_photo_folder_gets_a_default_time_budget(data, tmp_path, capsys):
    out = ["--out", str(tmp_path / "r")]
    default, err = _dry_run(capsys, "--data", str(data / "photo"), *out)
    assert default["max_minutes"] == 5
    first = err.splitlines()[0]
    assert "5 min" in first and "--max-minutes" in first and "--steps" in first, first
    for given, expected in ((["--steps", "10"], 0), (["--max-minutes", "2"], 2)):
        opts, _ = _dry_run(capsys, "--data", str(data / "photo"), *given, *out)
        assert opts["max_minutes"] == expected, given
    many = tmp_path / "many"
    for i in range(9):
        write_material(many, f"photo{i}", {"albedo": make_material("bricks", i, 64)["albedo"]})
    assert _dry_run(capsys, "--data", str(many), *out)[0]["max_minutes"] == 0
    assert _dry_run(capsys, "--preset", "bricks", *out)[0]["max_minutes"] == 0
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_a_small_photo_run_with_a_budget_ends_by_itself_and_exports(data, tmp_path, capsys):
    from trainer.__main__ import main

    run, model = tmp_path / "run", tmp_path / "wall.safetensors"
    assert main(["train", "--data", str(data / "photo"), "--out", str(run), "--max-minutes", "0.02",
                 "--downsample", "1", *GEN_TINY]) == 0, capsys.readouterr().err
    assert "time budget of 0.02 min reached" in capsys.readouterr().err
    assert main(["export", str(run), "--out", str(model), "--no-metrics"]) == 0, capsys.readouterr().err
    assert model.exists()


@pytest.mark.parametrize("where", ["inside_a_file", "proc"])
def test_eval_sheet_and_export_targets_are_checked_before_any_work(where, tmp_path, monkeypatch, capsys):
    """An unwritable --sheet or export --out is one line before the measuring or exporting starts."""
    import trainer.export
    import trainer.quality
    from trainer.__main__ import main

    def no_work(*args, **kwargs):
        raise AssertionError("the work started before the output was checked")

    monkeypatch.setattr(trainer.quality, "compare_with_baseline", no_work)
    monkeypatch.setattr(trainer.export, "export_run", no_work)
    (tmp_path / "afile").write_text("x")
    folder = tmp_path / "afile" if where == "inside_a_file" else Path("/proc")
    assert main(["eval", "stone_wall", "--preset", "bricks", "--count", "2", "--sheet", str(folder / "s.png")]) == 2
    assert main(["export", str(tmp_path), "--out", str(folder / "m.safetensors")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("error:") and "cannot write there" in line for line in err), err
