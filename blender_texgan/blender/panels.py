"""The sidebar panel: 3D Viewport > Sidebar > TexGAN."""
from __future__ import annotations

import bpy

from ..core.infinite import structured_hint
from ..core.modelfile import ModelFileError, read_manifest
from ..engine.generate import GenerationError, resolve_model
from ..engine.jobs import RUNNER
from ..engine.library import model_card
from . import gallery
from .properties import CUSTOM


class SidebarPanel:
    """A panel in the TexGAN tab of an editor's sidebar; the subclass names the editor
    (bl_space_type): Blender wants one panel class per editor."""
    bl_region_type = "UI"
    bl_category = "TexGAN"


class ViewportPanel(SidebarPanel):
    bl_space_type = "VIEW_3D"


class GenerateSubPanel(ViewportPanel):
    """A sub-panel of Generate (3D Viewport > Sidebar > TexGAN)."""
    bl_parent_id = "TEXGAN_PT_generate"


# Image to Material sits in three sidebars: (editor, infix of its panels' names).
PHOTO_EDITORS = (("VIEW_3D", ""), ("NODE_EDITOR", "_shader"), ("IMAGE_EDITOR", "_image"))


def photo_sub_panels(base: type, suffix: str) -> tuple[type, ...]:
    """`base` (a SidebarPanel drawing a sub-panel) as one class per editor, as Blender wants:
    TEXGAN_PT_photo<infix><suffix>, under that editor's TEXGAN_PT_photo<infix>."""
    return tuple(type(f"TEXGAN_PT_photo{infix}{suffix}", (base, bpy.types.Panel),
                      {"bl_idname": f"TEXGAN_PT_photo{infix}{suffix}", "bl_space_type": space,
                       "bl_parent_id": f"TEXGAN_PT_photo{infix}"})
                 for space, infix in PHOTO_EDITORS)


def split_layout(layout):
    """The layout with labels left of their fields, as Blender's property panels have it."""
    layout.use_property_split = True
    layout.use_property_decorate = False
    return layout


def draw_job_progress(layout) -> bool:
    """The running job's progress bar and Cancel button; False (nothing drawn) when none runs."""
    job = RUNNER.current
    if job is None or not job.active:
        return False
    row = layout.row(align=True)
    row.progress(factor=job.progress, type="BAR", text=job.progress_text())
    row.operator("texgan.cancel_generation", text="", icon="CANCEL")
    return True


def draw_material_options(layout, settings, hint: str = "") -> None:
    """How the material is made and assigned (Generate's and Image to Material's alike); `hint`:
    a warning drawn under the Infinite choice (core.infinite.structured_hint)."""
    layout.prop(settings, "surface")
    if settings.surface == "INFINITE":
        layout.prop(settings, "coordinates")
    if hint and settings.surface == "INFINITE":
        col = layout.column(align=True)
        for i, line in enumerate(wrap_words(hint, 44)):
            col.label(text=line, icon="INFO" if i == 0 else "BLANK1")
    for name in ("real_size", "displacement", "normal_convention", "target", "slot", "mark_asset"):
        layout.prop(settings, name)


def wrap_words(text: str, width: int) -> list[str]:
    """`text` in lines of at most about `width` characters, for labels in a narrow sidebar."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def model_hint(settings) -> str:
    """The Infinite output's hint for the chosen model (empty when it fits or the file is unreadable)."""
    try:
        model = settings.model_argument()
        return structured_hint(read_manifest(resolve_model(model, roles=()))) if model else ""
    except (GenerationError, ModelFileError, OSError):
        return ""


def draw_output_options(layout, settings) -> None:
    """Where the maps go: packed, or saved beside the .blend."""
    layout.prop(settings, "output")
    col = layout.column()
    col.enabled = settings.output == "SAVE"
    col.prop(settings, "bit_depth")
    col.prop(settings, "height_exr")


class TEXGAN_PT_generate(ViewportPanel, bpy.types.Panel):
    bl_idname = "TEXGAN_PT_generate"
    bl_label = "TexGAN"

    def draw(self, context):
        layout = split_layout(self.layout)
        settings = context.scene.texgan
        row = layout.row(align=True)
        row.prop(settings, "model")
        row.operator("texgan.import_model", text="", icon="IMPORT")
        if settings.model == CUSTOM:
            layout.prop(settings, "model_path")
        model = settings.model_argument()
        try:
            card = model_card(resolve_model(model, roles=())) if model else []  # any file's card, even a bad one's
        except GenerationError as exc:
            card = [str(exc)]
        if card:
            box = layout.box().column(align=True)
            for line in card:
                box.label(text=line)
        layout.prop(settings, "resolution")
        layout.prop(settings, "seed")
        layout.prop(settings, "mode")
        if draw_job_progress(layout):
            return
        op = layout.operator("texgan.generate_material", icon="MATERIAL")
        op.model = model
        op.resolution = settings.resolution
        op.seed = settings.seed
        op.mode = settings.mode


class TEXGAN_PT_variations(GenerateSubPanel, bpy.types.Panel):
    bl_idname = "TEXGAN_PT_variations"
    bl_label = "Variations"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.texgan
        layout.operator("texgan.generate_variations", icon="IMGDISPLAY")
        grid = layout.grid_flow(columns=3, even_columns=True, even_rows=True, align=True)
        model = settings.model_argument() if gallery.variations else ""
        for seed, icon_id in gallery.variations:
            cell = grid.column(align=True)
            cell.template_icon(icon_value=icon_id, scale=4.0)
            op = cell.operator("texgan.generate_material", text=f"Seed {seed}")
            op.model = model
            op.resolution = settings.resolution
            op.seed = seed
            op.mode = settings.mode


class TEXGAN_PT_material_options(GenerateSubPanel, bpy.types.Panel):
    bl_idname = "TEXGAN_PT_material_options"
    bl_label = "Material"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        settings = context.scene.texgan
        draw_material_options(split_layout(self.layout), settings, model_hint(settings))


class TEXGAN_PT_output_options(GenerateSubPanel, bpy.types.Panel):
    bl_idname = "TEXGAN_PT_output_options"
    bl_label = "Output"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        draw_output_options(split_layout(self.layout), context.scene.texgan)


classes = (TEXGAN_PT_generate, TEXGAN_PT_variations, TEXGAN_PT_material_options, TEXGAN_PT_output_options)
register, unregister = bpy.utils.register_classes_factory(classes)
