"""Texture file names -> (set, map): the naming schemes of Poly Haven, ambientCG, Poliigon and others.

    rock_wall_08_diff_1k.jpg         -> ("rock_wall_08", "albedo")     Poly Haven
    Bricks102_1K-JPG_NormalGL.jpg    -> ("Bricks102", "normal_gl")     ambientCG
    BricksRed001_COL_VAR1_2K.jpg     -> ("BricksRed001", "albedo")     Poliigon
    bricks_000_height.png            -> ("bricks_000", "height")       ours / generic

Matching is case-insensitive; the set name keeps the file's own spelling. A resolution or format
token (``_1k``, ``-2K``, ``_1K-JPG``, ``_2048``) may sit before or after the map tag, and Poliigon's
``_VAR1`` / ``_METALNESS`` / ``_SPECULAR`` suffixes after it. The extension is optional.

Map names:
    albedo, normal_gl, normal_dx, roughness, gloss (= 1 - roughness), height, arm (packed
    R = ambient occlusion, G = roughness, B = metallic; glTF "ORM" is the same packing), ao, metallic,
    and, recognised only so that they are not mistaken for photos: specular, opacity, emission.

A generic ``_normal`` / Poliigon ``_NRM`` is taken as OpenGL (+Y up); only an explicit DX/DirectX
tag gives normal_dx.

Only os, re and pathlib are used, so the add-on can import this module anywhere.
"""
from __future__ import annotations

import os
import re
from pathlib import PurePath

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".tga", ".exr", ".hdr")

# Map name -> tags (regex fragments, lower case). Within a map, earlier tags win when one set has
# several files for the same map (e.g. "_disp" beats "_bump").
MAP_TAGS: dict[str, tuple[str, ...]] = {
    "albedo": ("albedo", "base[_\\- ]?colou?r", "diffuse", "diff", "colou?r", "col"),
    "normal_dx": ("normal[_\\- ]?dx", "nor[_\\- ]?dx", "normal[_\\- ]?directx", "nrm[_\\- ]?dx"),
    "normal_gl": ("normal[_\\- ]?gl", "nor[_\\- ]?gl", "normal[_\\- ]?opengl", "nrm[_\\- ]?gl",
                  "normal[_\\- ]?map", "normals?", "nrm(?:16)?", "norm", "nor"),
    "roughness": ("roughness", "rough", "rgh"),
    "gloss": ("glossiness", "gloss"),
    "height": ("height(?:[_\\- ]?map)?", "displacement", "disp(?:16)?", "bump"),
    "arm": ("arm", "orm"),
    "ao": ("ambient[_\\- ]?occlusion", "occlusion", "ao"),
    "metallic": ("metallic", "metalness", "metal"),
    "specular": ("specular", "spec", "reflection", "refl"),
    "opacity": ("opacity", "alpha", "transparency", "mask"),
    "emission": ("emission", "emissive"),
}
MAP_NAMES = tuple(MAP_TAGS)

_SEP = r"[_\-. ]"
_RES = r"\d+k"                       # 1k, 2K, 16k
_FORMAT = r"(?:jpe?g|png|exr|tiff?)"  # ambientCG's 1K-JPG
_BEFORE = rf"(?:{_SEP}(?:{_RES}|{_FORMAT}))"
_AFTER = rf"(?:{_SEP}(?:{_RES}|\d+x\d+|256|512|1024|2048|4096|8192|16384|{_FORMAT}|var\d+|metalness|specular|16bit))"

_TAG_LIST = [(map_name, index, tag) for map_name, tags in MAP_TAGS.items() for index, tag in enumerate(tags)]
_TAG_GROUPS = "|".join(f"(?P<t{i}>{tag})" for i, (_, _, tag) in enumerate(_TAG_LIST))
_PATTERN = re.compile(rf"^(?P<set>.+?){_BEFORE}*{_SEP}(?:{_TAG_GROUPS}){_AFTER}*$", re.IGNORECASE)
_BARE_PATTERN = re.compile(rf"^(?:{_TAG_GROUPS}){_AFTER}*$", re.IGNORECASE)  # "albedo.png" in a set folder
_TRAILING_TOKENS = re.compile(rf"(?:{_BEFORE}|{_AFTER})+$", re.IGNORECASE)
_RES_VALUE = re.compile(rf"(?:^|{_SEP})(\d+)k(?={_SEP}|$)", re.IGNORECASE)


def _strip_extension(name: str) -> str:
    root, ext = os.path.splitext(name)
    return root if ext.lower() in IMAGE_EXTENSIONS else name


def _match(filename: str | os.PathLike) -> tuple[str, str, int] | None:
    """(set name, map name, tag priority) or None."""
    path = PurePath(os.fspath(filename))
    stem = _strip_extension(path.name)
    m = _PATTERN.match(stem)
    if m is None:
        bare = _BARE_PATTERN.match(stem)
        if bare is None:
            return None
        # A file named just "albedo.png": its folder names the set.
        set_name = path.parent.name
        m = bare
    else:
        set_name = m.group("set")
    for i, (map_name, priority, _) in enumerate(_TAG_LIST):
        if m.group(f"t{i}") is not None:
            return set_name, map_name, priority
    return None  # pragma: no cover - one tag group always matched


def classify_texture_file(filename: str | os.PathLike) -> tuple[str, str] | None:
    """File name (or path) -> (set name, map name), or None when it carries no known map tag.

    A bare tag such as ``albedo.png`` takes its set name from its folder ("" when there is none).
    """
    found = _match(filename)
    return None if found is None else found[:2]


def is_image_file(filename: str | os.PathLike) -> bool:
    return os.path.splitext(os.fspath(filename))[1].lower() in IMAGE_EXTENSIONS


def _resolution(stem: str) -> int:
    """Largest "<n>k" token in a file stem (0 when there is none)."""
    values = [int(v) for v in _RES_VALUE.findall(stem)]
    return max(values) if values else 0


def _base_stem(name: str) -> str:
    """File stem without trailing resolution/format tokens: "Bricks102_1K-JPG.png" -> "Bricks102"."""
    stem = _strip_extension(name)
    return _TRAILING_TOKENS.sub("", stem) or stem


_EXT_RANK = {".png": 0, ".tif": 1, ".tiff": 1, ".webp": 2, ".bmp": 2, ".tga": 2, ".jpg": 3, ".jpeg": 3}


def group_texture_sets(paths) -> dict[str, dict[str, str | os.PathLike]]:
    """Group image files into texture sets: {set key: {map name: path}}.

    The set key is ``os.path.join(folder, set name)``, so equally named sets in different folders
    stay apart. Files that carry no map tag become albedo-only sets of their own (a folder of plain
    photos is a folder of exemplars) -- except files whose name is a tagged set's name plus
    extras (``Bricks102.png``, ``rock_wall_08_preview.jpg``: previews shipped with a set), which
    are left out. Non-image files are ignored. When a set has several files for one map, a format
    Pillow reads (not EXR/HDR) wins, then the preferred tag, then the higher "<n>k" resolution,
    then PNG/TIFF over JPEG, then the name. Sets without an albedo are kept, so that a
    caller can report them.
    """
    candidates: dict[tuple[str, str], dict[str, list]] = {}
    set_names: dict[tuple[str, str], str] = {}
    lone: list[tuple[str, str, object]] = []
    for p in paths:
        name = os.path.basename(os.fspath(p))
        if not is_image_file(name):
            continue
        folder = os.path.dirname(os.fspath(p))
        found = _match(p)
        if found is None:
            lone.append((folder, name, p))
            continue
        set_name, map_name, priority = found
        key = (folder, set_name.lower())
        set_names.setdefault(key, set_name)
        ext = os.path.splitext(name)[1].lower()
        rank = (ext in (".exr", ".hdr"), priority, -_resolution(_strip_extension(name)), _EXT_RANK.get(ext, 4), name)
        candidates.setdefault(key, {}).setdefault(map_name, []).append((rank, p))

    sets: dict[str, dict] = {}
    for key, maps in candidates.items():
        folder, _ = key
        sets[os.path.join(folder, set_names[key])] = {m: min(c, key=lambda rc: rc[0])[1] for m, c in maps.items()}

    tagged_by_folder: dict[str, list[str]] = {}
    for folder, lower in candidates:
        tagged_by_folder.setdefault(folder, []).append(lower)
    for folder, name, p in sorted(lone, key=lambda t: (t[0], t[1])):
        base = _base_stem(name).lower()
        if any(base == s or (base.startswith(s) and re.match(_SEP, base[len(s)])) for s in tagged_by_folder.get(folder, ())):
            continue  # a preview or unknown extra map of a tagged set
        key = os.path.join(folder, _strip_extension(name))
        if key in sets:  # "rock.png" beside "rock.jpg": two photos, two sets
            key = os.path.join(folder, name)
        sets[key] = {"albedo": p}
    return dict(sorted(sets.items(), key=lambda kv: kv[0]))
