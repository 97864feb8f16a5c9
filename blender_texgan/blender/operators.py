"""Operators: texgan.generate_material (off the UI thread, Esc cancels), texgan.import_model and
texgan.cancel_generation; and what other operators share with them: JobOperator (an engine job
with progress and cancel) and create_material (maps -> material on the objects)."""
from __future__ import annotations

import bpy
import numpy as np

from ..core.infinite import InfiniteImages
from ..core.maps import PBR_MAPS
from ..core.modelfile import ModelFileError
from ..core.options import MaterialOptions, mapping_scale, texture_file_name
from ..core.prepare import PreparedMaps, prepare_maps
from ..core.preview import shaded_preview
from ..engine.generate import GenerationError, GenerationRequest, default_model_name, generate
from ..engine.infinite import maps_images, model_images
from ..engine.jobs import DONE, FAILED, RUNNER, Job, modal_step
from ..engine.library import import_model
from ..engine.request import check_engine
from .images import OutputError, image_from_png, saved_image, textures_folder
from .infinite import build_infinite_material
from .materials import build_pbr_tree
from .preferences import preferences, user_models_dir
from .properties import USER_PREFIX

MATERIAL_TYPES = {"MESH", "CURVE", "SURFACE", "META", "FONT"}
POLL_SECONDS = 0.05
PREVIEW_SIZE = 128


def build_material(prepared: PreparedMaps, manifest: dict, seed: int,
                   options: MaterialOptions | None = None, object_size: float = 1.0) -> bpy.types.Material:
    """Image datablocks + a material wired to them; on any failure nothing is left behind."""
    options = options or MaterialOptions()
    base = f"TexGAN {manifest['name']} s{seed}"
    maps = prepared.maps
    folder = textures_folder() if options.output == "SAVE" else None
    images, files, material = {}, [], None
    try:
        for spec in PBR_MAPS:
            name = f"{base} {spec.name}"
            if folder is None:  # PACK: prepare_maps encoded the PNGs on the worker
                images[spec.name] = image_from_png(name, prepared.png[spec.name], spec.colorspace,
                                                   texture_file_name(base, spec.name, "png"))
                continue
            exr = spec.name == "height" and options.height_exr
            path = folder / texture_file_name(base, spec.name, "exr" if exr else "png")
            files.append(path)
            images[spec.name] = saved_image(name, maps[spec.name], spec.colorspace, path,
                                            options.bit_depth, exr)
        material = bpy.data.materials.new(base)
        material.use_nodes = True
        material.displacement_method = options.displacement
        build_pbr_tree(material.node_tree, images, mapping_scale(object_size, options.real_size_m),
                       options.normal_convention == "DIRECTX")
    except Exception:
        if material is not None:
            bpy.data.materials.remove(material)
        for image in images.values():
            bpy.data.images.remove(image)
        for path in files:
            path.unlink(missing_ok=True)
        raise
    material["texgan"] = {"model": manifest["name"], "seed": seed,
                          **({"source": manifest["source"]} if "source" in manifest else {})}
    return material


def assign_material(obj: bpy.types.Object, material: bpy.types.Material, slot: str = "REPLACE") -> None:
    """Put the material in the active slot (REPLACE) or a new slot (NEW_SLOT); a new slot when
    the object has none."""
    if len(obj.material_slots) == 0 or slot == "NEW_SLOT":
        obj.data.materials.append(material)
        obj.active_material_index = len(obj.material_slots) - 1
    else:
        obj.material_slots[obj.active_material_index].material = material


def mark_asset(material: bpy.types.Material, maps: dict, manifest: dict) -> None:
    """Mark as an asset, with a preview shaded from the maps and the model's description."""
    material.asset_mark()
    material.asset_data.description = manifest.get("description", "")
    material.asset_data.tags.new("TexGAN")
    preview = material.preview_ensure()
    preview.image_size = (PREVIEW_SIZE, PREVIEW_SIZE)
    rgba = np.ones((PREVIEW_SIZE, PREVIEW_SIZE, 4), np.float32)
    rgba[..., :3] = shaded_preview(maps, PREVIEW_SIZE)
    preview.image_pixels_float.foreach_set(rgba[::-1].ravel())


def target_objects(context, active_name: str, target: str) -> list[bpy.types.Object]:
    active = bpy.data.objects.get(active_name)
    objects = [active] if active is not None else []
    if target == "SELECTED":
        objects += [o for o in context.selected_objects if o is not active]
    return [o for o in objects if o.type in MATERIAL_TYPES]


def material_object_poll(cls, context) -> bool:
    """Poll of the operators that put a material on the active object."""
    obj = context.active_object
    if obj is None or obj.type not in MATERIAL_TYPES:
        cls.poll_message_set("Select an object that can hold materials (a mesh, for example)")
        return False
    return True


def status_text(job: Job, doing: str = "generating") -> str:
    return f"TexGAN: {doing} {job.progress_text()} (Esc to cancel)"


def create_material(operator, context, prepared: PreparedMaps, manifest: dict, seed: int,
                    options: MaterialOptions, object_name: str) -> set[str]:
    """Build the material from prepared maps, put it on the target objects (`object_name`: the
    object that was active when the operator started), mark it as an asset when asked, report."""
    if options.surface == "INFINITE":  # the maps become the exemplar, tiled and blended at render time
        try:
            images = maps_images(prepared.maps, manifest)
        except GenerationError as exc:
            operator.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return create_infinite_material(operator, context, images, manifest, seed, options, object_name)
    objects = target_objects(context, object_name, options.target)
    size = max(objects[0].dimensions[:2]) if objects else 1.0
    try:
        material = build_material(prepared, manifest, seed, options, size)
    except (OutputError, OSError) as exc:
        operator.report({"ERROR"}, str(exc) if isinstance(exc, OutputError) else f"Could not save the maps: {exc}")
        return {"CANCELLED"}
    for obj in objects:
        assign_material(obj, material, options.slot)
    if context.scene.texgan.mark_asset:
        mark_asset(material, prepared.maps, manifest)
    operator.report({"INFO"}, f"Created material '{material.name}'")
    return {"FINISHED"}


def create_infinite_material(operator, context, images: InfiniteImages, manifest: dict, seed: int,
                             options: MaterialOptions, object_name: str, resolution: int = 0) -> set[str]:
    """The infinite material (blender/infinite.py) on the target objects. Its Scale makes the
    exemplar's features as large as in a baked material of `resolution` px (0: the exemplar's width)
    repeating every Real-World Size."""
    objects = target_objects(context, object_name, options.target)
    size = max(objects[0].dimensions[:2]) if objects else 1.0
    scale = options.real_size_m * images.shape[1] / (resolution or images.shape[1])
    try:
        material = build_infinite_material(images, manifest, seed, options, scale, size)
    except (OutputError, OSError) as exc:
        operator.report({"ERROR"}, str(exc) if isinstance(exc, OutputError) else f"Could not save the images: {exc}")
        return {"CANCELLED"}
    for obj in objects:
        assign_material(obj, material, options.slot)
    operator.report({"INFO"}, f"Created infinite material '{material.name}'")
    return {"FINISHED"}


class JobOperator:
    """Mixin for an operator whose heavy work is an engine job (engine.jobs): on a worker thread,
    with progress in the status bar and the sidebars, Esc (or the Cancel button) stops it; run
    synchronously in background mode so scripts and tests can drive it. The operator calls
    start_job() from execute() and implements finish(context, result, manifest, request)."""
    doing = "generating"  # status bar: "TexGAN: <doing> 42% ..."
    _job: Job | None = None
    _timer = None

    def start_job(self, context, request, run=None, prepare=None) -> set[str]:
        """Run `run(request, progress=, should_stop=) -> (result, manifest)` (default: generate),
        then `prepare(result)` on the worker, then finish() on the main thread. Raises what `run`
        raises in background mode, and GenerationError when another job is running."""
        if bpy.app.background:  # scripts and tests: synchronous
            result, manifest = (run or generate)(request)
            return self.finish(context, prepare(result) if prepare else result, manifest, request)
        self._job = RUNNER.submit(request, prepare=prepare, run=run)
        wm = context.window_manager
        self._timer = wm.event_timer_add(POLL_SECONDS, window=context.window)
        wm.modal_handler_add(self)
        context.workspace.status_text_set(status_text(self._job, self.doing))
        return {"RUNNING_MODAL"}

    def finish(self, context, result, manifest: dict, request) -> set[str]:
        raise NotImplementedError

    def stop(self, context) -> None:
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None
        context.workspace.status_text_set(None)
        _redraw_sidebars(context)

    def modal(self, context, event):
        job = self._job
        step = modal_step(job, event.type, event.value)
        if step == "pass":
            return {"PASS_THROUGH"}
        if step == "progress":
            context.workspace.status_text_set(status_text(job, self.doing))
            _redraw_sidebars(context)
            return {"PASS_THROUGH"}
        if step == "cancel":
            job.cancel()
        self.stop(context)
        if step == DONE:
            result, manifest = job.result
            job.result = None
            try:
                return self.finish(context, result, manifest, job.request)
            except LookupError as exc:
                self.report({"ERROR"}, str(exc))
                return {"CANCELLED"}
        if step == FAILED:
            self.report({"ERROR"}, job.error)
        else:
            self.report({"WARNING"}, "Cancelled: nothing was created")
        return {"CANCELLED"}


def generation_request(operator, context, model: str) -> GenerationRequest:
    """`model` at the operator's resolution, seed and mode, with its engine (empty: the preferences');
    the preferences give the device and the external engine's Python."""
    prefs = preferences(context)
    engine = operator.engine or (prefs.engine if prefs else "auto")
    # The device setting is greyed out for the built-in engine, which runs on the CPU only.
    device = prefs.device if prefs and engine != "numpy" else "auto"
    python = bpy.path.abspath(prefs.python) if prefs and prefs.python else ""
    check_engine(engine)
    return GenerationRequest(model, operator.resolution, operator.seed, device, engine, python, operator.mode or "auto")


class TEXGAN_OT_generate_material(JobOperator, bpy.types.Operator):
    """Generate a seamless PBR material with a TexGAN model and assign it to the active object"""
    bl_idname = "texgan.generate_material"
    bl_label = "Generate Material"
    bl_options = {"REGISTER", "UNDO"}

    model: bpy.props.StringProperty(name="Model", description="Bundled model name or path to a .safetensors file")
    resolution: bpy.props.IntProperty(name="Resolution", default=1024, min=32, max=8192)
    seed: bpy.props.IntProperty(name="Seed", default=0, min=0)
    engine: bpy.props.StringProperty(name="Engine",
                                     description="auto, torch, numpy or external (empty: preferences)")
    mode: bpy.props.StringProperty(name="Detail", default="auto",
                                   description="auto, refined, neural or random (see engine.generate.MODES)")

    _options: MaterialOptions = MaterialOptions()
    _object_name = ""

    @classmethod
    def poll(cls, context):
        return material_object_poll(cls, context)

    def request(self, context) -> GenerationRequest:
        return generation_request(self, context, self.model or default_model_name())

    def finish(self, context, prepared, manifest: dict, request: GenerationRequest):
        if isinstance(prepared, InfiniteImages):
            return create_infinite_material(self, context, prepared, manifest, request.seed, self._options,
                                            self._object_name, request.resolution)
        return create_material(self, context, prepared, manifest, request.seed, self._options, self._object_name)

    def execute(self, context):
        self._object_name = context.active_object.name
        try:
            request = self.request(context)
            self._options = options = context.scene.texgan.material_options()
            if options.surface == "INFINITE":  # no generation: the model's exemplar, prepared once
                return self.start_job(context, request, run=model_images)
            return self.start_job(context, request, prepare=lambda maps: prepare_maps(maps, options))
        except (ModelFileError, GenerationError, LookupError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}


class TEXGAN_OT_import_model(bpy.types.Operator):
    """Check a .safetensors model file and add it to your model library"""
    bl_idname = "texgan.import_model"
    bl_label = "Import Model File"
    bl_options = {"REGISTER"}

    filepath: bpy.props.StringProperty(subtype="FILE_PATH")
    filter_glob: bpy.props.StringProperty(default="*.safetensors", options={"HIDDEN"})

    def invoke(self, context, event):
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        try:
            path = import_model(bpy.path.abspath(self.filepath), user_models_dir(context, create=True))
        except ModelFileError as exc:
            self.report({"ERROR"}, f"{exc}; it was not imported")
            return {"CANCELLED"}
        except OSError as exc:
            self.report({"ERROR"}, f"Could not copy the model: {exc.strerror or exc}")
            return {"CANCELLED"}
        context.scene.texgan.model = USER_PREFIX + path.stem
        self.report({"INFO"}, f"Imported model '{path.stem}'")
        return {"FINISHED"}


class TEXGAN_OT_cancel_generation(bpy.types.Operator):
    """Stop the running TexGAN generation; nothing is created"""
    bl_idname = "texgan.cancel_generation"
    bl_label = "Cancel"
    bl_options = {"INTERNAL"}

    @classmethod
    def poll(cls, context):
        return RUNNER.busy()

    def execute(self, context):
        RUNNER.current.cancel()
        return {"FINISHED"}


SIDEBAR_EDITORS = {"VIEW_3D", "NODE_EDITOR", "IMAGE_EDITOR"}  # where TexGAN panels are


def _redraw_sidebars(context) -> None:
    screen = getattr(context, "screen", None)
    for area in (screen.areas if screen else ()):
        if area.type in SIDEBAR_EDITORS:
            area.tag_redraw()


classes = (TEXGAN_OT_generate_material, TEXGAN_OT_import_model, TEXGAN_OT_cancel_generation)


def register():
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister():
    if RUNNER.busy():
        RUNNER.current.cancel()
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
