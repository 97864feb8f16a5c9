"""Terminal entry:

    python -m blender_texgan generate --model NAME_OR_PATH --size N --seed S --out DIR
    python -m blender_texgan seamless IMAGE_OR_FOLDER --size N --out FILE_OR_DIR [--seed S] [--upscale 2]
    python -m blender_texgan photo2mat IMAGE_OR_FOLDER --size N --out DIR [--no-seamless] [--no-straighten] [--translator F]
    python -m blender_texgan interpolate --model M --from A --to B --frames N --out DIR   (A, B: seeds or images)
    python -m blender_texgan transform --translator T --model M --seed S --size N --strength X --out DIR
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from .core.maps import PBR_MAPS
from .core.modelfile import ModelFileError, read_manifest, safe_file_prefix
from .core.png import PngSet
from .engine.devices import DEVICE_CHOICES
from .engine.generate import (
    ENGINES,
    MODES,
    GenerationError,
    GenerationRequest,
    bundled_models,
    check_seed,
    default_model_name,
    generate,
    resolve_model,
)
from .engine.image_files import OUTPUT_ERRNOS

STRAIGHTEN_HELP = ("keep the photo's perspective (by default lines that converge, like brick columns shot "
                   "from below, are made parallel first; a photo without clear perspective is kept as it is)")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m blender_texgan", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="generate a PBR map set and write one PNG per map")
    gen.add_argument("--model", default=default_model_name(),
                     help="bundled model name or path to a .safetensors model (default: %(default)s)")
    gen.add_argument("--size", type=int, default=1024, help="output width and height in pixels")
    gen.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same maps")
    gen.add_argument("--out", type=Path, default=Path("out"), help="output folder (created if missing)")
    gen.add_argument("--engine", choices=ENGINES, default="auto",
                     help="torch, numpy (zero-install CPU) or auto (torch when importable)")
    gen.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="torch device")
    gen.add_argument("--mode", choices=MODES, default="auto",
                     help="auto: the model's own choice, measured at export and named on its card (random or "
                          "blend for every bundled model; neural for a model without an exemplar); random: patches "
                          "of the exemplar joined along its joints, no network; blend: tiling and blending of the "
                          "exemplar; refined: the net's layout with the exemplar's detail; neural: the net alone")
    gen.add_argument("--name", default=None, help="file-name prefix (default: model name and seed)")
    gen.add_argument("--python", default="", metavar="PATH",
                     help="interpreter that runs --engine external (a Python with torch, e.g. with CUDA)")
    sub.add_parser("models", help="list bundled models")
    seam = sub.add_parser("seamless", help="make a photo, or every image in a folder, tileable (PNG)")
    seam.add_argument("image", type=Path, help="an image file, or a folder of images")
    seam.add_argument("--size", type=int, default=1024,
                      help="output side in pixels of the analysis scale: the photo's own scale for photos up "
                           "to 1024 px long, 1/2 or 1/4 of it for larger ones (default: %(default)s)")
    seam.add_argument("--out", type=Path, required=True,
                      help="output .png file (one image) or folder (created if missing)")
    seam.add_argument("--seed", type=int, default=0, help="another seed, another layout of the same photo")
    seam.add_argument("--upscale", type=int, choices=(1, 2, 4), default=1,
                      help="enlarge the result 2x or 4x, still tileable: real detail from a larger photo, "
                           "else a synthesised finest octave")
    seam.add_argument("--method", choices=("auto", "synthesis", "wrap_cut"), default="auto",
                      help="synthesis re-arranges pieces of the photo (fine, busy photos: gravel, grass, bark); "
                           "wrap_cut keeps the photo whole and cuts its wrap border (few large elements: "
                           "cobblestones, bricks, tiles; the photo is scaled to fit --size); auto picks per photo")
    seam.add_argument("--no-equalise", action="store_true",
                      help="keep slow lighting trends (vignetting) instead of evening them out")
    seam.add_argument("--no-straighten", action="store_true", help=STRAIGHTEN_HELP)
    p2m = sub.add_parser("photo2mat", help="make a photo, or every image in a folder, a tileable PBR material "
                                           "(one PNG per map; height 16-bit)")
    p2m.add_argument("image", type=Path, help="an image file, or a folder of images")
    p2m.add_argument("--size", type=int, default=1024, help="output side in pixels (as for seamless)")
    p2m.add_argument("--out", type=Path, required=True, help="output folder (created if missing)")
    p2m.add_argument("--seed", type=int, default=0, help="another seed, another layout of the same photo")
    p2m.add_argument("--upscale", type=int, choices=(1, 2, 4), default=1, help="enlarge 2x or 4x, still tileable")
    p2m.add_argument("--no-seamless", action="store_true", help="keep the photo's framing (maps do not tile)")
    p2m.add_argument("--no-straighten", action="store_true", help=STRAIGHTEN_HELP)
    p2m.add_argument("--translator", default="", metavar="NAME_OR_FILE",
                     help="translator model for the maps (default: the bundled one, else the classical method)")
    p2m.add_argument("--engine", choices=("auto", "torch", "numpy"), default="auto", help="engine for the translator")
    p2m.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="torch device")
    _latent_commands(sub)
    _transform_parser(sub)
    return parser.parse_args(argv)


def _latent_commands(sub) -> None:
    """Morphs and variations (latent paths with a VAE model)."""
    mor = sub.add_parser("interpolate", help="a morph between two materials, every frame tileable "
                                            "(one PNG per map per frame)")
    mor.add_argument("--model", default=default_model_name(), help="model for ends given as seeds")
    mor.add_argument("--from", dest="start", required=True, help="a seed, or an image (made seamless)")
    mor.add_argument("--to", dest="end", required=True, help="a seed, or an image (made seamless)")
    mor.add_argument("--frames", type=int, default=24, help="frames, both ends included")
    mor.add_argument("--size", type=int, default=512, help="side in pixels")
    _output_and_engine(mor)
    var = sub.add_parser("variations", help="variations of a texture (or of every image in a folder) that keep "
                                            "its character: a VAE model lays them out, the texture gives the detail")
    var.add_argument("image", type=Path, help="an image file, or a folder of images")
    var.add_argument("--model", default="", help="a VAE model (default: the bundled VAE)")
    var.add_argument("--count", type=int, default=4, help="how many variations per image")
    var.add_argument("--strength", type=float, default=0.5,
                     help="0 keeps the texture's layout, 1 draws fresh layouts")
    var.add_argument("--size", type=int, default=512, help="side of each variation in pixels")
    var.add_argument("--seed", type=int, default=0, help="another seed, other variations")
    _output_and_engine(var)


def _output_and_engine(command) -> None:
    """--out, --engine and --device, as the latent and transform commands take them."""
    command.add_argument("--out", type=Path, required=True, help="output folder (created if missing)")
    command.add_argument("--engine", choices=("auto", "torch", "numpy"), default="auto")
    command.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="torch device")


def _transform_parser(sub) -> None:
    """`transform`: a generated material (or an image made a material), translated by a material translator."""
    tra = sub.add_parser("transform", help="generate a material, then translate it with a material translator "
                                           "(e.g. clean -> rusty metal); one PNG per map")
    tra.add_argument("--translator", required=True, metavar="NAME_OR_FILE",
                     help="bundled material translator name or a maps_to_maps .safetensors file")
    source = tra.add_mutually_exclusive_group()
    source.add_argument("--model", default=default_model_name(), help="model that makes the material to translate")
    source.add_argument("--image", type=Path, metavar="PATH",
                        help="an image to make a tileable material of (as photo2mat does), then translate")
    tra.add_argument("--seed", type=int, default=0, help="the material's seed (and the detail step's)")
    tra.add_argument("--no-detail", action="store_true",
                     help="skip the detail step (real detail copied from the translator's exemplar, when it carries one)")
    tra.add_argument("--size", type=int, default=512, help="side in pixels (a multiple of the translator's)")
    tra.add_argument("--strength", type=float, default=1.0, help="0: unchanged, 1: fully translated")
    _output_and_engine(tra)


def _progress(fraction: float, label: str = "generating") -> None:
    print(f"\r{label} {fraction * 100:5.1f}%", end="" if fraction < 1 else "\n", file=sys.stderr, flush=True)


def check_name(name: str) -> str:
    """A file-name prefix must stay a plain name inside --out."""
    if not name or name in (".", "..") or any(c in name for c in '/\\\0') or name != name.strip():
        raise GenerationError(f"--name must be a plain file-name prefix without folders, not '{name}'.")
    return name


def prepare_output(folder: Path) -> Path:
    """Create --out (and its parents) and make sure files can be written there, before any work:
    one line naming the problem (a file in the way, /proc, read-only, full) instead of one per image
    after the work is done."""
    if folder.exists() and not folder.is_dir():
        raise GenerationError(f"--out '{folder}' is a file: give a folder.")
    blocking = next((p for p in folder.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise GenerationError(f"--out '{folder}': cannot write there: '{blocking}' is a file, not a folder.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GenerationError(f"--out '{folder}': cannot write there: {exc.strerror or exc}.") from None
    check_writable(folder, f"--out '{folder}'")
    return folder


def check_writable(folder: Path, what: str) -> None:
    """Create and remove a file in `folder`: permissions, read-only disks and /proc all answer
    this, and root (whom os.access always lets through) too."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".texgan-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise GenerationError(f"{what} is not writable: {exc.strerror or exc}.") from None


def new_folders(path: Path) -> list[Path]:
    """`path` and its ancestors that do not exist yet, deepest first: the folders a run may create."""
    missing = []
    for folder in (path, *path.parents):
        if folder.exists() or folder.is_symlink():
            break
        missing.append(folder)
    return missing


def remove_if_empty(folders: list[Path]) -> None:
    """Remove the folders a run created and left empty (a failed run leaves no empty --out)."""
    for folder in folders:
        try:
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        except OSError:  # tidying up must not hide the run's own error
            return


def main(argv=None) -> int:
    """Every command reports bad input as one `error:` line and exit code 2, Ctrl-C as 130."""
    from .engine.image_files import PillowMissing

    args = parse_args(argv)
    if args.command == "models":
        for name, path in bundled_models().items():
            print(f"{name}\t{path}")
        return 0
    commands = {"generate": generate_command, "seamless": seamless_command, "photo2mat": photo2mat_command,
                "interpolate": interpolate_command, "transform": transform_command, "variations": variations_command}
    started = time.perf_counter()
    created = new_folders(args.out) if getattr(args, "out", None) else []
    try:
        done = commands[args.command](args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except (ModelFileError, GenerationError, ValueError, PillowMissing) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = f" '{exc.filename}'" if exc.filename else ""
        print(f"error: cannot write{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    finally:
        remove_if_empty(created)
    print(f"{done} in {time.perf_counter() - started:.2f} s", file=sys.stderr)
    return 0


def add_maps(files: PngSet, folder: Path, prefix: str, maps) -> list[Path]:
    """One PNG per map of a MapSet into `files` (height 16-bit): folder/{prefix}_{map}.png."""
    return files.add_all([(folder / f"{prefix}_{spec.name}.png", maps[spec.name], 16 if spec.name == "height" else 8)
                          for spec in PBR_MAPS])


def generate_command(args) -> str:
    """python -m blender_texgan generate: one PNG per map; -> what was done."""
    if args.engine == "external" and not args.python:
        raise GenerationError("--engine external needs --python PATH (an interpreter with torch).")
    check_seed(args.seed)
    prefix = check_name(args.name) if args.name is not None else None
    out = prepare_output(args.out)
    request = GenerationRequest(args.model, args.size, args.seed, args.device, args.engine, args.python,
                                args.mode)
    maps, manifest = generate(request, progress=_progress if sys.stderr.isatty() else None)
    prefix = prefix or f"{safe_file_prefix(manifest['name'])}_s{args.seed}"  # a shared file's name stays a name
    with PngSet() as files:
        add_maps(files, out, prefix, maps)
    print(*files.written, sep="\n")
    return f"generated {args.size}x{args.size}"


# ---------------------------------------------------------------- seamless

def output_file(out: Path, source: Path, suffix: str) -> Path:
    """Where one image's result goes: --out itself when it names a .png, else inside the folder
    --out; checked before any work (the folder writable, the photo itself never replaced)."""
    if out.suffix.lower() == ".png" and not out.is_dir():
        if not out.parent.is_dir():
            raise GenerationError(f"--out '{out}': its folder does not exist.")
        check_writable(out.parent, f"--out '{out}': its folder")
        target = out
    elif out.suffix and not out.is_dir():
        raise GenerationError(f"--out '{out}': only PNG is written; give a .png file or a folder.")
    else:
        target = prepare_output(out) / f"{source.stem}{suffix}.png"
    if target.exists() and target.resolve() == source.resolve():
        raise GenerationError(f"--out '{target}' is the image itself: give another file or folder "
                              "(the photo is never replaced).")
    return target


def not_an_input(targets: list[Path], inputs: set[Path]) -> list[Path]:
    """`targets`, or a ValueError when one is an image of the folder being read (--out inside it)."""
    for target in targets:
        if target.resolve() in inputs:
            raise ValueError(f"its result '{target.name}' would replace an image of the folder")
    return targets


def seamless_one(path: Path, target: Path, args) -> list[Path]:
    """Read one image, make it seamless, write it (16-bit when the source was): [the file written]."""
    from .core.photo.seamless import make_seamless
    from .core.png import write_png
    from .engine.image_files import load_image

    loaded = load_image(path)
    progress = (lambda f: _progress(f, "seamless")) if sys.stderr.isatty() and not args.image.is_dir() else None
    out = make_seamless(loaded.pixels, args.size, seed=args.seed, equalise=not args.no_equalise,
                        straighten=not args.no_straighten,
                        upscale=args.upscale, method=args.method, progress=progress)
    return [write_png(target, out, bits=loaded.bits)]


def unique_stem(path: Path, used: set[str]) -> str:
    """The file's stem, or stem_ext when another file of the folder already took the stem."""
    stem = path.stem if path.stem not in used else f"{path.stem}_{path.suffix[1:]}"
    used.add(stem)
    return stem


def seamless_command(args) -> str:
    """python -m blender_texgan seamless: one image (to --out FILE.png or into the folder --out) or a folder."""
    from .core.photo.seamless import check_size

    used: set[str] = set()
    where: dict[str, Path] = {}

    def checks() -> None:
        check_size(args.size, args.upscale)
        if args.image.is_dir() and args.out.suffix.lower() == ".png":
            raise GenerationError(f"--out '{args.out}' names a file; a folder of images needs a folder.")

    def outputs(inputs: set[Path]) -> None:
        if args.image.is_dir():
            where["folder"] = prepare_output(args.out)
        else:
            where["target"] = output_file(args.out, args.image, "_seamless")

    def one(path: Path) -> list[Path]:
        if not args.image.is_dir():
            return seamless_one(path, where["target"], args)
        target = not_an_input([where["folder"] / f"{unique_stem(path, used)}_seamless.png"], inputs)[0]
        return seamless_one(path, target, args)

    inputs = folder_inputs(args.image)
    return image_command(args, "seamless", "made seamless", one, checks, outputs, inputs)


def photo2mat_one(path: Path, folder: Path, stem: str, args, inputs: set[Path]) -> list[Path]:
    """Read one image, make it a material, write one PNG per map (height 16-bit), all or none:
    the files written."""
    from .engine.image_files import load_image
    from .engine.photo.pipeline import PhotoRequest, photo_to_material

    not_an_input([folder / f"{stem}_{spec.name}.png" for spec in PBR_MAPS], inputs)
    loaded = load_image(path)
    request = PhotoRequest(size=args.size, seamless=not args.no_seamless, maps=True, upscale=args.upscale,
                           seed=args.seed, translator=args.translator, engine=args.engine, device=args.device,
                           name=stem, straighten=not args.no_straighten)
    single = sys.stderr.isatty() and not args.image.is_dir()
    maps = photo_to_material(loaded.pixels, request, (lambda f: _progress(f, "photo2mat")) if single else None)
    with PngSet() as files:
        add_maps(files, folder, stem, maps)
    return files.written


def photo2mat_command(args) -> str:
    """python -m blender_texgan photo2mat: one image or a folder -> one PNG per map in the folder --out."""
    from .core.photo.seamless import check_size

    used: set[str] = set()
    inputs = folder_inputs(args.image)

    def checks() -> None:
        check_size(args.size, args.upscale)
        if args.out.suffix.lower() == ".png":
            raise GenerationError(f"--out '{args.out}' names a file; photo2mat writes one PNG per map into a folder.")

    def one(path: Path) -> list[Path]:
        return photo2mat_one(path, args.out, unique_stem(path, used), args, inputs)

    return image_command(args, "photo2mat", "made into a material", one, checks,
                         lambda inputs: prepare_output(args.out), inputs)


def interpolate_command(args) -> str:
    """python -m blender_texgan interpolate: frame_0000_albedo.png ... in --out, all frames or none."""
    from .engine.latent.morph import MorphRequest, morph_sequence

    if args.frames < 2 or args.frames > 10_000:
        raise GenerationError(f"--frames must be 2 to 10000, not {args.frames}.")
    out = prepare_output(args.out)
    request = MorphRequest(args.model, args.start, args.end, args.frames, args.size, args.engine, args.device)
    progress = (lambda f: _progress(f, "interpolating")) if sys.stderr.isatty() else None
    with PngSet() as files:  # the frames are parts on disk until the last is written
        for i, maps in enumerate(morph_sequence(request, progress)):
            add_maps(files, out, f"frame_{i:04d}", maps)
    return f"wrote {args.frames} frames to {out}"


def variations_command(args) -> str:
    """python -m blender_texgan variations: one image or a folder -> {stem}_v{i}_{map}.png in --out."""
    from .engine.image_files import load_image
    from .engine.latent.variations import VariationsRequest, check_request, texture_variations

    request = VariationsRequest(args.model, args.count, args.strength, args.size, args.seed, engine=args.engine,
                                device=args.device)
    used: set[str] = set()
    inputs = folder_inputs(args.image)

    def one(path: Path) -> list[Path]:
        stem, folder = unique_stem(path, used), args.out
        single = sys.stderr.isatty() and not args.image.is_dir()
        variants = texture_variations(load_image(path).pixels, request,
                                      (lambda f: _progress(f, "variations")) if single else None)
        with PngSet() as files:
            for i, maps in enumerate(variants):
                not_an_input(add_maps(files, folder, f"{stem}_v{i}", maps), inputs)
        return files.written

    return image_command(args, "variations", "varied", one, lambda: check_request(request),
                         lambda inputs: prepare_output(args.out), inputs)


def transform_command(args) -> str:
    """python -m blender_texgan transform: the model's material, translated; one PNG per map."""
    from .engine.material_translation import check_fits, check_strength, load_material_translator, transform_to_files

    check_seed(args.seed)
    check_strength(args.strength)
    check_fits(args.size)
    if args.image is None:  # a bad model file is refused before the translator (and torch) loads
        read_manifest(resolve_model(args.model))
    net = load_material_translator(args.translator, args.engine, args.device)
    out = prepare_output(args.out)
    if args.image is not None:  # the image made a tileable material, at its own relief
        from .engine.image_files import load_image
        from .engine.photo.pipeline import PhotoRequest, photo_to_material

        request = PhotoRequest(size=args.size, seed=args.seed, engine=args.engine, device=args.device,
                               name=args.image.stem)
        maps, name, relief = photo_to_material(load_image(args.image).pixels, request), args.image.stem, None
    else:
        maps, manifest = generate(GenerationRequest(args.model, args.size, args.seed, args.device, args.engine))
        name = manifest["name"]
        relief = float((manifest.get("exemplar") or {}).get("normal_strength") or manifest["normal_strength"])
    detail = False if args.no_detail else None  # None: the translator's default (on when it carries an exemplar)
    maps = transform_to_files(maps, net, args.strength, normal_strength=relief, detail=detail, seed=args.seed)
    with PngSet() as files:
        add_maps(files, out, f"{safe_file_prefix(name)}_s{args.seed}_{safe_file_prefix(net.model.name)}", maps)
    print(*files.written, sep="\n")
    return f"translated {args.size}x{args.size} from {net.block['from']} to {net.block['to']}"


def folder_inputs(image: Path) -> set[Path]:
    """The resolved files of the folder `image` (empty for one image): results must not replace them."""
    from .engine.image_files import folder_files

    return {p.resolve() for p in folder_files(image)} if image.is_dir() else set()


def image_command(args, label: str, done_text: str, one, checks, outputs, inputs: set[Path]) -> str:
    """One image (its problem as one GenerationError line) or a folder (every image, a progress
    bar, then the files skipped with a reason; an error when none worked). checks() looks at the
    options, outputs(inputs) prepares where results go: both before any image is read."""
    from .engine.image_files import PillowMissing, folder_files, reason, run_batch

    check_seed(args.seed)
    checks()
    if not args.image.exists():
        raise GenerationError(f"'{args.image}' does not exist.")
    outputs(inputs)
    if not args.image.is_dir():
        try:
            done = one(args.image)
        except (PillowMissing, GenerationError):
            raise
        except Exception as exc:  # unreadable, too small, too large...: one line
            if isinstance(exc, OSError) and exc.errno in OUTPUT_ERRNOS:
                raise
            raise GenerationError(f"{args.image.name}: {reason(exc, args.image)}") from None
    else:
        done, skipped = run_batch(folder_files(args.image), one, label)
        if skipped:
            print(f"skipped {len(skipped)} file(s):", file=sys.stderr)
            for line in skipped:
                print(f"  {line}", file=sys.stderr)
        if not done:
            raise GenerationError(f"no image in '{args.image}' could be {done_text}.")
    for path in done:
        print(path)
    return f"{len(done)} file(s) written"


if __name__ == "__main__":
    sys.exit(main())
