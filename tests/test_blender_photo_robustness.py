"""Image to Material and Save as Model in real Blender on input the terminal refuses: a thin photo
gets the terminal's 'too narrow' line, a truncated JPEG one line too; neither leaves a material, an
image or a model file behind (issue 21, part C)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import datablocks, new_plane, smooth_photo


def _models(bpy) -> set[str]:
    folder = Path(bpy.utils.extension_path_user("bl_ext.user_default.blender_texgan", path="models"))
    return {p.name for p in folder.glob("*")} if folder.is_dir() else set()


def _refused(bpy, operator, words: str, **kwargs) -> None:
    plane = bpy.context.active_object
    before, models = datablocks(bpy), _models(bpy)
    with pytest.raises(RuntimeError) as info:
        operator(**kwargs)
    text = str(info.value).strip()
    assert words in text and "\n" not in text and "Traceback" not in text, text
    assert datablocks(bpy) == before and plane.active_material is None and _models(bpy) == models


def test_a_thin_photo_gets_the_too_narrow_line(blender):
    bpy = blender
    photo = np.repeat(smooth_photo(40, 64, seed=2), 64, axis=1)[:, :4000]  # 4000 x 40
    image = bpy.data.images.new("strip", 4000, 40)
    rgba = np.ones((40, 4000, 4), np.float32)
    rgba[..., :3] = photo
    image.pixels.foreach_set(rgba[::-1].ravel())
    new_plane(bpy)
    # by its name as Blender gave it: another test's image may already be called 'strip'
    _refused(bpy, bpy.ops.texgan.image_to_material, "too narrow", image=image.name, maps=False, size=64)
    _refused(bpy, bpy.ops.texgan.save_photo_model, "too narrow", image=image.name, maps=False)


def test_a_truncated_jpeg_is_refused_in_one_line(blender, tmp_path):
    from PIL import Image

    bpy = blender
    path = tmp_path / "cut.jpg"
    Image.fromarray((smooth_photo(256, 256, seed=5) * 255).astype(np.uint8)).save(path, quality=95)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])  # a download cut short
    image = bpy.data.images.load(str(path))
    assert image.size[0] == 256  # Blender shows it, grey where the data ended
    new_plane(bpy)
    _refused(bpy, bpy.ops.texgan.image_to_material, "truncated", image=image.name, maps=False, size=64)
    _refused(bpy, bpy.ops.texgan.save_photo_model, "truncated", image=image.name, maps=False)
