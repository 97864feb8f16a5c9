"""Transform Material (3D Viewport > Sidebar > TexGAN > Transform Material): the active material's
maps through a material translator (e.g. clean -> rusty metal) with a strength. The maps are read
from the add-on's labelled Image Texture nodes (Generate's, Image to Material's, Variations'), or,
for an imported material, from the Image Texture nodes wired into its Principled BSDF (Base Color,
Roughness, a Displacement or Bump node's Height, a Normal Map's Color). The result goes into new
packed image datablocks that those same nodes then show (the old images are left as they are, for
other users and for undo). The translation runs as an engine job
(engine.material_translation.transform_runner; synchronous in background mode).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import bpy
import numpy as np

from ..core.maps import GENERATED_CHANNELS, PBR_MAPS
from ..core.modelfile import ModelFileError
from ..core.options import texture_file_name
from ..core.png import encode_png
from ..core.prepare import PreparedMaps, prepare_maps
from ..core.synthesis.refine import resize_periodic
from ..engine.material_translation import TransformJob, check_strength, transform_runner
from ..engine.photo.pipeline import map_from_pixels
from ..engine.request import GenerationError
from . import sockets as S
from .images import image_from_png
from .morph_live import labelled_nodes
from .operators import JobOperator
from .panels import GenerateSubPanel, draw_job_progress, split_layout
from .photo import engine_and_device, is_linear

NEEDED = [name for name, _ in GENERATED_CHANNELS]  # albedo, height, roughness: the normal is derived
FLAT_HEIGHT = 0.5  # an imported material without a height image: flat, the relief comes from the translation


class MaterialInputError(ValueError):
    """A material whose maps cannot be read; str() is one sentence for the user."""


@dataclass(frozen=True)
class MapSource:
    """Where a map is read from and its result written to: an Image Texture node (by name) and, for a
    map packed in one channel of an image (roughness in an ORM image), that channel."""
    node: str
    channel: int | None = None


# ---------------------------------------------------------------- an imported material's wiring

def _input(node, names: tuple[str, ...]):
    try:
        return S.find_socket(node.inputs, *names) if node is not None else None
    except LookupError:
        return None


def _linked_into(socket):
    """(node, output socket) of the link into an input socket, or None."""
    if socket is None or not socket.is_linked:
        return None
    link = socket.links[0]
    return (link.from_node, link.from_socket) if link.is_valid and not link.is_muted else None


def _image_source(node, output) -> MapSource | None:
    if node.bl_idname == S.IMAGE and node.image is not None and output.name in S.IMAGE_COLOR:
        return MapSource(node.name)
    return None


def image_behind(socket, through: tuple[str, ...] = (), channels: bool = False) -> MapSource | None:
    """The Image Texture whose colour is linked into `socket`: directly, through one node of the
    types `through` (by its colour inputs), or, with `channels`, one channel of it through a
    Separate Color node."""
    linked = _linked_into(socket)
    if linked is None:
        return None
    node, output = linked
    if (source := _image_source(node, output)) is not None:
        return source
    if channels and node.bl_idname in (S.SEPARATE_COLOR, S.SEPARATE_RGB) and output.name in S.CHANNEL_OUTPUTS \
            and getattr(node, "mode", "RGB") == "RGB":
        behind = _linked_into(_input(node, S.SEPARATE_INPUT))
        source = _image_source(*behind) if behind else None
        return replace(source, channel=S.CHANNEL_OUTPUTS[output.name]) if source else None
    if node.bl_idname in through:
        for inner in node.inputs:
            behind = _linked_into(inner) if inner.type == "RGBA" else None
            if behind and (source := _image_source(*behind)) is not None:
                return source
    return None


def material_output(tree):
    outputs = [node for node in tree.nodes if node.bl_idname == S.OUTPUT]
    return next((node for node in outputs if node.is_active_output), outputs[0] if outputs else None)


def principled_of(tree, output):
    """The Principled BSDF linked into the output's Surface, else the first one in the tree."""
    linked = _linked_into(_input(output, S.OUTPUT_SURFACE))
    if linked and linked[0].bl_idname == S.PRINCIPLED:
        return linked[0]
    return next((node for node in tree.nodes if node.bl_idname == S.PRINCIPLED), None)


def height_source(bsdf, output) -> MapSource | None:
    """The image behind a Displacement node's Height into the output, else a Bump node's Height
    into the BSDF's Normal."""
    for socket, kind in ((_input(output, S.OUTPUT_DISPLACEMENT), S.DISPLACEMENT),
                         (_input(bsdf, S.PRINCIPLED_INPUTS["normal"]), S.BUMP)):
        linked = _linked_into(socket)
        if linked and linked[0].bl_idname == kind:
            source = image_behind(_input(linked[0], S.HEIGHT), channels=True)
            if source is not None:
                return source
    return None


def normal_source(bsdf) -> MapSource | None:
    """The image behind a Normal Map node into the BSDF's Normal (or into a Bump node's Normal there)."""
    linked = _linked_into(_input(bsdf, S.PRINCIPLED_INPUTS["normal"]))
    if linked and linked[0].bl_idname == S.BUMP:
        linked = _linked_into(_input(linked[0], S.PRINCIPLED_INPUTS["normal"]))
    if linked and linked[0].bl_idname == S.NORMAL_MAP:
        return image_behind(_input(linked[0], S.NORMAL_MAP_COLOR))
    return None


def wired_sources(material: bpy.types.Material) -> tuple[dict[str, MapSource], dict[str, float]]:
    """An imported material's map sources, and the flat values used for needed maps without one."""
    tree = material.node_tree if material.use_nodes else None
    output = material_output(tree) if tree is not None else None
    bsdf = principled_of(tree, output) if tree is not None else None
    albedo = image_behind(_input(bsdf, S.PRINCIPLED_INPUTS["albedo"]), through=S.COLOUR_FILTERS)
    if albedo is None:
        raise MaterialInputError(f"Material '{material.name}' has no image texture on Base Color: Transform "
                                 "Material needs an Image Texture node linked to its Principled BSDF's Base Color "
                                 "(or a material made by TexGAN).")
    found = {"albedo": albedo, "height": height_source(bsdf, output), "normal": normal_source(bsdf),
             "roughness": image_behind(_input(bsdf, S.PRINCIPLED_INPUTS["roughness"]), channels=True)}
    roughness = _input(bsdf, S.PRINCIPLED_INPUTS["roughness"])
    flat = {"height": FLAT_HEIGHT, "roughness": float(roughness.default_value) if roughness is not None else 0.5}
    return {name: source for name, source in found.items() if source is not None}, flat


def material_sources(material: bpy.types.Material) -> tuple[dict[str, MapSource], dict[str, float]]:
    """The add-on's labelled nodes when the material has them all, else the imported wiring."""
    labelled = {name: MapSource(node.name) for name, node in labelled_nodes(material).items()}
    if all(name in labelled for name in NEEDED):
        return labelled, {}
    return wired_sources(material)


# ---------------------------------------------------------------- reading and writing pixels

def read_image_map(image: bpy.types.Image, name: str, material_name: str, channel: int | None = None) -> np.ndarray:
    try:
        width, height = image.size
        channels = image.channels
    except (RuntimeError, ReferenceError) as exc:
        raise MaterialInputError(f"Image '{image.name}' of material '{material_name}' cannot be read: {exc}") from None
    if width == 0 or height == 0 or channels == 0:
        raise MaterialInputError(f"Image '{image.name}' of material '{material_name}' has no pixels: "
                                 "its file could not be loaded.")
    flat = np.empty(width * height * channels, np.float32)
    image.pixels.foreach_get(flat)
    if channel is not None:  # a map packed in one channel: that channel as a one-channel image
        flat, channels = flat.reshape(-1, channels)[:, min(channel, channels - 1)].copy(), 1
    return map_from_pixels(flat, width, height, channels, name == "albedo", is_linear(image))


def read_material_maps(material: bpy.types.Material) -> tuple[dict[str, np.ndarray], dict[str, MapSource]]:
    """A material's maps (albedo, height, roughness; the others resampled to the albedo's size, flat
    where an imported material has no image) and where they came from; one-line errors otherwise."""
    sources, flat = material_sources(material)
    nodes = material.node_tree.nodes
    albedo = read_image_map(nodes[sources["albedo"].node].image, "albedo", material.name)
    size = albedo.shape[:2]
    maps = {"albedo": albedo}
    for name in NEEDED[1:]:
        source = sources.get(name)
        if source is None:
            maps[name] = np.full(size + (1,), flat[name], np.float32)
            continue
        values = read_image_map(nodes[source.node].image, name, material.name, source.channel)
        maps[name] = values if values.shape[:2] == size else resize_periodic(values, *size)
    return maps, sources


def packed_channel_png(image: bpy.types.Image, channel: int, values: np.ndarray) -> bytes:
    """The image's pixels with one channel replaced by `values` (resampled to its size), as PNG: the
    other maps packed beside it (metallic, occlusion) are kept."""
    width, height = image.size
    flat = np.empty(width * height * image.channels, np.float32)
    image.pixels.foreach_get(flat)
    pixels = np.clip(flat.reshape(height, width, image.channels)[::-1], 0.0, 1.0)
    rgb = pixels[..., :3] if image.channels >= 3 else np.repeat(pixels[..., :1], 3, axis=-1)
    rgb = rgb.copy()
    rgb[..., min(channel, 2)] = resize_periodic(values, height, width)[..., 0]
    return encode_png(rgb, 16 if image.is_float else 8, 0)


def write_results(material: bpy.types.Material, prepared: PreparedMaps, sources: dict[str, MapSource],
                  base: str) -> list[str]:
    """New packed images in the nodes the maps were read from; the names of the maps written."""
    nodes, done, written = material.node_tree.nodes, set(), []
    for spec in PBR_MAPS:
        source = sources.get(spec.name)
        node = nodes.get(source.node) if source is not None else None
        if node is None or node.bl_idname != S.IMAGE or node.name in done:
            continue  # no such node (or removed meanwhile), or one node read for two maps
        data, colorspace = prepared.png[spec.name], spec.colorspace
        if source.channel is not None and node.image is not None:
            data = packed_channel_png(node.image, source.channel, prepared.maps[spec.name])
            colorspace = node.image.colorspace_settings.name
        node.image = image_from_png(f"{base} {spec.name}", data, colorspace, texture_file_name(base, spec.name, "png"))
        done.add(node.name)
        written.append(spec.name)
    return written


def is_directx(node) -> bool:
    """Does the normal image of this Image Texture node hold DirectX normals (flipped back in the
    node tree by a Separate Color)?"""
    if node is None or node.bl_idname != S.IMAGE:
        return False
    color = S.find_socket(node.outputs, *S.IMAGE_COLOR)
    return any(link.to_node.bl_idname == S.SEPARATE_COLOR for link in color.links)


class TEXGAN_OT_transform_material(JobOperator, bpy.types.Operator):
    """Translate the active material's maps with a material translator (e.g. clean to rusty metal);
    the result goes into new images of the same material"""
    bl_idname = "texgan.transform_material"
    bl_label = "Transform Material"
    bl_options = {"REGISTER", "UNDO"}
    doing = "transforming the material"

    translator: bpy.props.StringProperty(name="Translator",
                                         description="A bundled material translator or a file (empty: the panel's)")
    strength: bpy.props.FloatProperty(name="Strength", default=1.0, min=0.0, max=1.0)
    engine: bpy.props.StringProperty(name="Engine", description="auto, torch or numpy (empty: preferences)")

    _material_name = ""
    _directx = False
    _sources: dict = {}  # map name -> MapSource, set by execute for finish

    @classmethod
    def poll(cls, context):
        obj = context.active_object
        if obj is None or getattr(obj, "active_material", None) is None:
            cls.poll_message_set("Select an object with a material (made by TexGAN, or with an image on Base Color)")
            return False
        return True

    def execute(self, context):
        material = context.active_object.active_material
        latent = context.scene.texgan.latent
        try:
            maps, sources = read_material_maps(material)
            translator = self.translator or (latent.translator if latent.translator != "NONE" else "")
            if not translator:
                raise GenerationError("No material translator is installed: Transform Material needs one.")
            check_strength(self.strength)
            engine, device = engine_and_device(context, self.engine)
            normal = sources.get("normal")
            self._material_name, self._sources = material.name, sources
            self._directx = is_directx(material.node_tree.nodes.get(normal.node) if normal else None)
            options = replace(context.scene.texgan.material_options(), output="PACK",
                              normal_convention="DIRECTX" if self._directx else "OPENGL")
            request = TransformJob(translator, self.strength, engine, device, material.name)
            return self.start_job(context, request, run=transform_runner(maps),
                                  prepare=lambda result: prepare_maps(result, options))
        except (MaterialInputError, ModelFileError, GenerationError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}

    def finish(self, context, prepared: PreparedMaps, manifest: dict, request: TransformJob):
        material = bpy.data.materials.get(self._material_name)
        if material is None:
            self.report({"ERROR"}, f"Material '{self._material_name}' was removed while it was being transformed.")
            return {"CANCELLED"}
        written = write_results(material, prepared, self._sources, f"{material.name} {manifest['to']}")
        material["texgan"] = {**(material["texgan"].to_dict() if "texgan" in material else {}),
                              "transform": {"translator": request.translator, "strength": request.strength}}
        self.report({"INFO"}, f"Transformed material '{material.name}' to {manifest['to']} "
                              f"(strength {request.strength:g}; new {', '.join(written)} images)")
        return {"FINISHED"}


class TEXGAN_PT_transform(GenerateSubPanel, bpy.types.Panel):
    """Generate > Transform Material: the active material, the translator, the strength."""
    bl_idname = "TEXGAN_PT_transform"
    bl_label = "Transform Material"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = split_layout(self.layout)
        latent = context.scene.texgan.latent
        obj = context.active_object
        material = getattr(obj, "active_material", None) if obj is not None else None
        layout.label(text=f"Material: {material.name}" if material is not None else "No active material",
                     icon="MATERIAL")
        layout.prop(latent, "translator")
        layout.prop(latent, "transform_strength")
        if draw_job_progress(layout):
            return
        op = layout.operator("texgan.transform_material", icon="SHADERFX")
        op.translator = latent.translator if latent.translator != "NONE" else ""
        op.strength = latent.transform_strength


classes = (TEXGAN_OT_transform_material, TEXGAN_PT_transform)
register, unregister = bpy.utils.register_classes_factory(classes)
