"""Texture file names of Poly Haven, ambientCG, Poliigon and our own -> (set, map), and grouping."""
from __future__ import annotations

import os

import pytest

from blender_texgan.core.texture_names import classify_texture_file, group_texture_sets

NAMES = [
    # Poly Haven
    ("rock_wall_08_diff_1k.jpg", ("rock_wall_08", "albedo")),
    ("rock_wall_08_nor_gl_1k.jpg", ("rock_wall_08", "normal_gl")),
    ("rock_wall_08_nor_dx_1k.jpg", ("rock_wall_08", "normal_dx")),
    ("rock_wall_08_rough_1k.jpg", ("rock_wall_08", "roughness")),
    ("rock_wall_08_disp_4k.png", ("rock_wall_08", "height")),
    ("cliff_side_arm_2k.jpg", ("cliff_side", "arm")),
    ("cliff_side_ao_2k.jpg", ("cliff_side", "ao")),
    ("metal_plate_02_metal_1k.jpg", ("metal_plate_02", "metallic")),
    ("rusty_metal_05_rough_1k.jpg", ("rusty_metal_05", "roughness")),
    ("rock_wall_08_diff_1k", ("rock_wall_08", "albedo")),  # no extension
    # ambientCG
    ("Bricks102_1K-JPG_NormalGL.jpg", ("Bricks102", "normal_gl")),
    ("Bricks102_1K-JPG_NormalDX.jpg", ("Bricks102", "normal_dx")),
    ("Bricks102_1K-JPG_Color.jpg", ("Bricks102", "albedo")),
    ("Bricks102_2K-PNG_Displacement.png", ("Bricks102", "height")),
    ("Bricks102_1K-JPG_AmbientOcclusion.jpg", ("Bricks102", "ao")),
    ("Wood066_2K_Color.png", ("Wood066", "albedo")),
    ("Wood066_2K_Roughness.png", ("Wood066", "roughness")),
    ("Metal055A_1K-JPG_Metalness.jpg", ("Metal055A", "metallic")),
    # Poliigon
    ("BricksRed001_COL_2K.jpg", ("BricksRed001", "albedo")),
    ("BricksRed001_COL_VAR1_2K.jpg", ("BricksRed001", "albedo")),
    ("BricksRed001_NRM_2K.jpg", ("BricksRed001", "normal_gl")),
    ("BricksRed001_GLOSS_2K.jpg", ("BricksRed001", "gloss")),
    ("BricksRed001_DISP_2K.jpg", ("BricksRed001", "height")),
    ("BricksRed001_DISP16_2K.tif", ("BricksRed001", "height")),
    ("BricksRed001_NRM_3K_METALNESS.png", ("BricksRed001", "normal_gl")),
    ("BricksRed001_REFL_2K.jpg", ("BricksRed001", "specular")),
    # generic, and ours
    ("bricks_000_height.png", ("bricks_000", "height")),
    ("bricks_000_albedo.png", ("bricks_000", "albedo")),
    ("Rock058_normal.jpg", ("Rock058", "normal_gl")),
    ("stone_basecolor.png", ("stone", "albedo")),
    ("stone_base_color-4k.png", ("stone", "albedo")),
    ("stone_BaseColor.PNG", ("stone", "albedo")),
    ("stone_diffuse.tga", ("stone", "albedo")),
    ("stone_color.png", ("stone", "albedo")),
    ("stone_bump.png", ("stone", "height")),
    ("stone_roughness.png", ("stone", "roughness")),
    ("ROCK_DIFF_1K.JPG", ("ROCK", "albedo")),
    ("textures/rock/albedo.jpg", ("rock", "albedo")),  # a bare tag: the folder names the set
]


@pytest.mark.parametrize("name, expected", NAMES)
def test_vendor_names(name, expected):
    assert classify_texture_file(name) == expected


@pytest.mark.parametrize("name", ["IMG_1234.jpg", "photo.png", "Bricks102.png", "red_brick_wall.jpg",
                                  "notes.txt", "rusty_metal_05.jpg"])
def test_untagged_names(name):
    assert classify_texture_file(name) is None


def test_set_name_keeps_its_spelling_but_matching_ignores_case():
    assert classify_texture_file("MyStone_NORMALGL.PNG") == ("MyStone", "normal_gl")
    assert classify_texture_file("mystone_Diff_2K.Jpg") == ("mystone", "albedo")


def test_group_sets_prefers_readable_and_larger_files_and_leaves_previews_out():
    d = os.path.join("lib", "Bricks102")
    paths = [os.path.join(d, n) for n in (
        "Bricks102_1K-JPG_Color.jpg", "Bricks102_2K-JPG_Color.jpg", "Bricks102_1K-JPG_NormalGL.jpg",
        "Bricks102_1K-JPG_Displacement.exr", "Bricks102_1K-JPG_Displacement.png",
        "Bricks102.png",              # ambientCG preview
        "Bricks102_1K-JPG.usdc",      # not an image
    )] + [os.path.join("photos", "beach.jpg"), os.path.join("photos", "beach.png"),
          os.path.join("other", "Bricks102_albedo.png"), os.path.join("loose", "x_height.png")]
    sets = group_texture_sets(paths)
    assert sets[os.path.join(d, "Bricks102")] == {
        "albedo": os.path.join(d, "Bricks102_2K-JPG_Color.jpg"),
        "normal_gl": os.path.join(d, "Bricks102_1K-JPG_NormalGL.jpg"),
        "height": os.path.join(d, "Bricks102_1K-JPG_Displacement.png"),
    }
    assert sets[os.path.join("other", "Bricks102")] == {"albedo": os.path.join("other", "Bricks102_albedo.png")}
    photos = [k for k in sets if k.startswith("photos")]
    assert len(photos) == 2 and all(list(sets[k]) == ["albedo"] for k in photos)
    assert sets[os.path.join("loose", "x")] == {"height": os.path.join("loose", "x_height.png")}  # no albedo: caller decides
    assert not any("Bricks102.png" in str(v) for m in sets.values() for v in m.values())
