"""All TexGAN UI state: one PropertyGroup behind scene.texgan."""
from __future__ import annotations

import bpy

from ..core.options import MaterialOptions
from ..engine.generate import default_model_name
from ..engine.library import list_models
from ..engine.material_translation import material_translators
from .morph_live import factor_changed, morph_key
from .preferences import user_models_dir

CUSTOM = "__custom__"
_enum_items: list[tuple[str, str, str]] = []  # kept alive: Blender does not copy enum item strings


USER_PREFIX = "user:"

MODE_ITEMS = [
    ("auto", "Photographic", "The model's own choice, measured when it was made and named on its card: Exemplar "
                             "Only or Tiling and Blending for the bundled models (Neural Draft for a model "
                             "without an exemplar)"),
    ("neural", "Neural Draft", "The network alone: faster, softer"),
    ("random", "Exemplar Only", "Patches of the exemplar as big as its stones or plates, joined along its joints; "
                                "no network"),
    ("blend", "Tiling and Blending", "Blended copies of the exemplar (Heitz & Neyret): smooth, for sand, grass "
                                     "and other stochastic materials"),
]


def library_entries():
    try:
        folder = user_models_dir()
    except Exception:  # no preferences (scripts without the add-on enabled)
        folder = ""
    return list_models([folder] if folder else [])


def model_items(self, context):
    items = []
    default = default_model_name()  # first, so a fresh scene's enum starts on it
    entries = sorted(library_entries(), key=lambda e: not (e.source == "bundled" and e.name == default))
    for entry in entries:
        identifier = entry.name if entry.source == "bundled" else USER_PREFIX + entry.name
        label = entry.name.replace("_", " ").title()
        items.append((identifier, label, f"{'Bundled' if entry.source == 'bundled' else 'Your'} model {entry.name}"))
    items.append((CUSTOM, "Model File...", "Use a .safetensors model file from disk"))
    _enum_items[:] = items
    return _enum_items


STRAIGHTEN_DESCRIPTION = ("Make lines that converge in perspective parallel first (brick columns shot from "
                          "below); a photo without clear perspective is kept as it is")
UPSCALE_ITEMS = [("1", "1x", "The synthesised size"), ("2", "2x", "Twice the size, detail from the photo"),
                 ("4", "4x", "Four times the size, detail from the photo")]


class TEXGAN_PG_photo(bpy.types.PropertyGroup):
    """Image to Material: the picked image and what to make of it (scene.texgan.photo)."""
    image: bpy.props.PointerProperty(name="Image", type=bpy.types.Image,
                                     description="The photo to make a material from (Open loads a file)")
    seamless: bpy.props.BoolProperty(name="Make Seamless", default=True,
                                     description="Synthesise a tileable texture from the photo (else keep its framing)")
    maps: bpy.props.BoolProperty(name="Separate Maps", default=True,
                                 description="Albedo, normal, height and roughness from a translator model "
                                             "(else the photo is the albedo, with flat relief)")
    size: bpy.props.IntProperty(name="Size", default=1024, min=32, max=8192, step=16,
                                description="Side of the seamless texture in pixels, before upscaling")
    straighten: bpy.props.BoolProperty(name="Straighten Perspective", default=True,
                                       description=STRAIGHTEN_DESCRIPTION)
    upscale: bpy.props.EnumProperty(name="Upscale", default="1", items=UPSCALE_ITEMS,
                                    description="Upscale the result, keeping it tileable")
    seed: bpy.props.IntProperty(name="Seed", default=0, min=0, description="Another seed, another layout")
    translator_path: bpy.props.StringProperty(name="Translator", subtype="FILE_PATH",
                                              description="A translator model file (empty: the bundled one)")


_translator_items: list[tuple[str, str, str]] = []  # kept alive, as _enum_items


def translator_items(self, context):
    _translator_items[:] = material_translators() or [("NONE", "None Installed", "No material translator is bundled")]
    return _translator_items


class TEXGAN_PG_latent(bpy.types.PropertyGroup):
    """Variations of This, the morph slider and Transform Material (scene.texgan.latent)."""
    vae_path: bpy.props.StringProperty(name="VAE Model", subtype="FILE_PATH",
                                       description="A texture VAE model file (empty: the bundled VAE)")
    count: bpy.props.IntProperty(name="Count", default=4, min=1, max=16, description="How many variations")
    strength: bpy.props.FloatProperty(name="Strength", default=0.5, min=0.0, max=1.0, subtype="FACTOR",
                                      description="0 keeps the image's layout, 1 draws fresh layouts")
    seed_b: bpy.props.IntProperty(name="Seed B", default=1, min=0, description="The seed the morph ends at")
    factor: bpy.props.FloatProperty(name="Morph", default=0.0, min=0.0, max=1.0, subtype="FACTOR",
                                    update=factor_changed,
                                    description="0: the Generate seed, 1: Seed B (keyframe it to animate the morph)")
    material: bpy.props.PointerProperty(name="Morph Material", type=bpy.types.Material,
                                        poll=lambda self, material: morph_key(material) is not None,
                                        update=factor_changed,
                                        description="The morph material the slider drives")
    translator: bpy.props.EnumProperty(name="Translate", items=translator_items,
                                       description="Material translator: what the material becomes")
    transform_strength: bpy.props.FloatProperty(name="Strength", default=1.0, min=0.0, max=1.0, subtype="FACTOR",
                                                description="0 leaves the material as it is, 1 translates it fully")


class TEXGAN_PG_settings(bpy.types.PropertyGroup):
    model: bpy.props.EnumProperty(name="Model", description="Texture model to generate with",
                                  items=model_items)
    model_path: bpy.props.StringProperty(name="Model File", description="Path to a .safetensors model file",
                                         subtype="FILE_PATH")
    resolution: bpy.props.IntProperty(name="Resolution", description="Width and height of the maps in pixels",
                                      default=1024, min=32, max=8192, step=16)
    seed: bpy.props.IntProperty(name="Seed", description="Same seed, same material", default=0, min=0)
    mode: bpy.props.EnumProperty(name="Detail", default="auto", items=MODE_ITEMS,
                                 description="Where the detail comes from (models that carry an exemplar)")

    # Material options
    real_size: bpy.props.FloatProperty(name="Real-World Size", description="Width of one texture repeat",
                                       default=1.0, min=0.01, soft_max=20.0, subtype="DISTANCE", unit="LENGTH")
    displacement: bpy.props.EnumProperty(name="Displacement", default="BUMP", items=[
        ("BUMP", "Bump Only", "Height shades as bump; geometry is not moved"),
        ("BOTH", "Displacement and Bump", "Cycles moves the geometry (needs subdivision) and adds bump")])
    normal_convention: bpy.props.EnumProperty(name="Normal Map", default="OPENGL", items=[
        ("OPENGL", "OpenGL", "Green up (Blender, Unity)"),
        ("DIRECTX", "DirectX", "Green down (Unreal); flipped back in the node tree for Blender")])
    target: bpy.props.EnumProperty(name="Apply To", default="ACTIVE", items=[
        ("ACTIVE", "Active Object", ""), ("SELECTED", "Selected Objects", "")])
    slot: bpy.props.EnumProperty(name="Slot", default="REPLACE", items=[
        ("REPLACE", "Replace Active", "Put the material in the active slot"),
        ("NEW_SLOT", "Add Slot", "Add a new material slot")])

    surface: bpy.props.EnumProperty(name="Output", default="BAKED", items=[
        ("BAKED", "Baked Maps", "Image maps of the chosen resolution that repeat every Real-World Size"),
        ("INFINITE", "Infinite (render-time)",
         "No bake and no repeat: one node group tiles and blends the model's exemplar per pixel at render "
         "time (Heitz & Neyret); for floors, roads and terrain that span tens of metres")])
    coordinates: bpy.props.EnumProperty(name="Coordinates", default="OBJECT", items=[
        ("OBJECT", "Object", "Object-space coordinates, in metres: no UVs needed"),
        ("UV", "UV", "The object's UVs, scaled so the UV square spans the object's size")])
    mark_asset: bpy.props.BoolProperty(name="Mark as Asset", default=False,
                                       description="Mark the material as an asset (with a shaded preview) for the Asset Browser")

    # Output options
    output: bpy.props.EnumProperty(name="Images", default="PACK", items=[
        ("PACK", "Pack in .blend", "Store the maps inside the .blend file"),
        ("SAVE", "Save Next to .blend", "Write the maps to a textures folder beside the .blend, relative paths")])
    bit_depth: bpy.props.EnumProperty(name="PNG Depth", default="8", items=[("8", "8-bit", ""), ("16", "16-bit", "")])
    height_exr: bpy.props.BoolProperty(name="Height as OpenEXR", default=False,
                                       description="Save the height map as 32-bit float OpenEXR")

    photo: bpy.props.PointerProperty(type=TEXGAN_PG_photo)
    latent: bpy.props.PointerProperty(type=TEXGAN_PG_latent)

    def material_options(self) -> MaterialOptions:
        return MaterialOptions(real_size_m=self.real_size, displacement=self.displacement,
                               normal_convention=self.normal_convention, target=self.target, slot=self.slot,
                               output=self.output, bit_depth=int(self.bit_depth), height_exr=self.height_exr,
                               surface=self.surface, coordinates=self.coordinates)

    def model_argument(self) -> str:
        """What to pass as the operator's `model`: a bundled name or a file path."""
        if self.model == CUSTOM:
            return bpy.path.abspath(self.model_path)
        if self.model.startswith(USER_PREFIX):
            name = self.model[len(USER_PREFIX):]
            for entry in library_entries():
                if entry.source != "bundled" and entry.name == name:
                    return str(entry.path)
        return self.model or default_model_name()


classes = (TEXGAN_PG_photo, TEXGAN_PG_latent, TEXGAN_PG_settings)


def register():
    for cls in classes:
        bpy.utils.register_class(cls)
    bpy.types.Scene.texgan = bpy.props.PointerProperty(type=TEXGAN_PG_settings)


def unregister():
    del bpy.types.Scene.texgan
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
