"""Training options are written once: each TrainOptions field carries its flag's help, and the
trainer's parser is built from the fields, so every option is settable from the command line."""
from __future__ import annotations

from dataclasses import fields

from trainer.__main__ import parse_args
from trainer.options import TrainOptions, resolve_options


def test_every_option_but_the_command_has_a_flag_that_reaches_the_options():
    given = {"out": "runs/x", "steps": "7", "max_minutes": "2.5", "batch": "3", "crop": "64", "downsample": "2",
             "lr_g": "0.001", "lr_d": "0.002", "r1_gamma": "0.5", "r1_every": "2", "patch_loss": "1.5",
             "patch_space": "bands", "ema_decay": "0.9", "seed": "5", "pool_count": "4", "pool_size": "64",
             "local_channels": "6", "global_channels": "2", "periods": "2,4", "channels": "16,12,8",
             "upsample": "bilinear", "d_width": "8", "ckpt_every": "5", "sample_every": "6", "eval_every": "0",
             "eval_count": "4", "keep": "2", "device": "cpu", "kl_weight": "0.05"}
    argv = ["train", "--no-augment", "--data", "photos"]
    for name, value in given.items():
        argv += ["--" + name.replace("_", "-"), value]
    args = parse_args(argv)
    opts = resolve_options({k: v for k, v in vars(args).items() if k != "command"})
    assert not opts.augment and opts.data == "photos" and opts.preset is None
    assert (opts.periods, opts.channels, opts.upsample, opts.patch_space) == ([2.0, 4.0], [16, 12, 8], "bilinear", "bands")
    assert (opts.steps, opts.max_minutes, opts.lr_g, opts.keep, opts.kl_weight) == (7, 2.5, 0.001, 2, 0.05)
    flagged = set(given) | {"augment", "data", "preset"}
    # nothing left without a flag but the command and the kind (train --kind, read before parsing)
    assert flagged == {f.name for f in fields(TrainOptions)} - {"command", "kind"}
    assert all(f.metadata["help"] for f in fields(TrainOptions))


def test_flags_not_given_leave_the_defaults_and_the_config_file_alone():
    args = parse_args(["train", "--out", "runs/y"])
    names = {f.name for f in fields(TrainOptions)} - {"command"}  # args.command is the subcommand
    given = {k: v for k, v in vars(args).items() if k in names and v is not None}
    assert given == {"out": "runs/y"}
    assert resolve_options(given) == TrainOptions(out="runs/y")
