"""The README's panel pictures come from the panels' own draw() code in real Blender."""
from __future__ import annotations

import sys

import numpy as np

from scripts import panel_picture
from scripts.panel_picture import Item, Layout

ADDON = "bl_ext.user_default.blender_texgan"


def _leaves(node):
    if isinstance(node, Item):
        yield node
        return
    for child in node.children:
        yield from _leaves(child)


def test_recorded_panels_hold_the_real_properties_and_operators(blender):
    bpy = blender
    settings = bpy.context.scene.texgan
    settings.output, settings.seed = "PACK", 7
    panels = {p.title: p for p in panel_picture.sidebar_panels(ADDON)}
    assert list(panels) == ["TexGAN", "Variations", "Material", "Output"]

    main = list(_leaves(panels["TexGAN"].layout))
    props = {i.label: i.value for i in main if i.kind == "prop"}
    assert props["Seed"] == "7" and props["Resolution"] == str(settings.resolution)
    assert props["Model"] == bpy.types.UILayout.enum_item_name(settings, "model", settings.model)
    assert "Generate Material" in [i.text for i in main if i.kind == "operator"]
    assert any(i.kind == "label" and i.text.startswith("Licence") for i in main)  # the model card

    output = {i.label or i.text: i for i in _leaves(panels["Output"].layout) if i.kind == "prop"}
    assert output["Images"].value == "Pack in .blend"
    assert not output["PNG Depth"].enabled  # greyed out unless saving next to the .blend
    settings.output = "SAVE"
    output = {i.label or i.text: i for i in _leaves(panel_picture.sidebar_panels(ADDON)[3].layout)
              if i.kind == "prop"}
    assert output["PNG Depth"].enabled and output["Images"].value == "Save Next to .blend"
    settings.output = "PACK"


def test_gallery_previews_are_painted_into_the_panel_picture(blender):
    bpy = blender
    bpy.ops.texgan.generate_variations(count=3)
    gallery = sys.modules[f"{ADDON}.blender.gallery"]
    icons = panel_picture.preview_icons(gallery.collection())
    assert len(icons) == 3 and len({np.asarray(i).tobytes() for i in icons}) == 3  # three distinct seeds

    with_icons = np.asarray(panel_picture.sidebar_picture(ADDON), np.int16)
    without = np.asarray(panel_picture.paint(panel_picture.sidebar_panels(ADDON)), np.int16)
    assert with_icons.shape == without.shape and with_icons.shape[1] == panel_picture.WIDTH
    changed = np.abs(with_icons - without).sum(axis=2) > 0
    assert changed.mean() > 0.02  # the thumbnails cover part of the picture


def test_painting_is_pure_and_greys_out_disabled_rows():
    layout = Layout(use_property_split=True)
    layout.children.append(Item("prop", label="Depth", widget="enum", value="8-bit", split=True))
    row = Layout("row", children=[Item("prop", label="Depth", widget="enum", value="8-bit", split=True,
                                       enabled=False)])
    enabled = np.asarray(panel_picture.paint([panel_picture.Panel("A", layout)]), np.int16)
    disabled = np.asarray(panel_picture.paint([panel_picture.Panel("A", Layout(children=[row]))]), np.int16)
    assert enabled.shape == disabled.shape
    body = slice(panel_picture.UNIT * 2, None)  # below the panel header
    assert enabled[body].max() >= 0xE0 > 0x90 >= disabled[body].max()  # the text is dimmed when disabled
