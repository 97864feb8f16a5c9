"""Pictures of the add-on's sidebar panels, drawn headless from the panels' own draw() code.

The bpy module has no window, so Blender cannot take a screenshot of its UI. Instead each panel's
draw() runs against a recording layout (same calls as bpy.types.UILayout: row, column, box, prop,
operator, label, ...), every prop is resolved through RNA to its real name and current value, and
the recorded tree is painted with Pillow in Blender's default dark theme and UI font. The picture
therefore changes whenever the panels, their properties or the bundled models change.

    record(draw, context, owner) -> Layout          (needs bpy: the add-on must be enabled)
    paint(panels, icons) -> PIL.Image               (pure Pillow)

In background mode every preview's icon_id is 0, so template_icon items take their pictures from a
list in drawing order (the gallery's previews, in the order the Variations panel shows them).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

SCALE = 2                  # pixels per Blender UI pixel
UNIT = 20 * SCALE          # Blender's widget unit: the height of one row
GAP = 2 * SCALE            # spacing between items of a non-aligned column or row
WIDTH = 320 * SCALE        # sidebar width
PAD = 10 * SCALE           # panel content padding
SPLIT = 0.4                # share of the width taken by labels in property-split layouts
THEME = {"region": "#303030", "header": "#3d3d3d", "box": "#393939", "button": "#545454",
         "menu": "#282828", "field": "#1d1d1d", "text": "#e6e6e6", "label": "#b3b3b3",
         "accent": "#4772b3", "disabled": "#8a8a8a"}
ICON_GLYPHS = {"IMPORT": "\u2193", "CANCEL": "\u00d7", "FILE_FOLDER": "\u2026"}


# ---------------------------------------------------------------- recording

@dataclass
class Item:
    """A leaf of the layout: kind is label, prop, operator, progress or icon."""
    kind: str
    text: str = ""
    label: str = ""          # property-split label (props only)
    split: bool = False      # drawn in the right-hand column of a property-split layout
    widget: str = ""         # enum, number, bool, text (props only)
    value: object = None
    icon: str = ""
    icon_value: int = 0
    enabled: bool = True
    idname: str = ""         # operators: which one
    props: dict = field(default_factory=dict)  # operators: the properties draw() set


@dataclass
class Layout:
    """A recorded UILayout: a column, row, box or grid of items and sub-layouts."""
    kind: str = "column"
    align: bool = False
    columns: int = 1
    children: list = field(default_factory=list)
    use_property_split: bool = False
    use_property_decorate: bool = False
    enabled: bool = True
    active: bool = True

    def _sub(self, kind: str, align: bool = False, columns: int = 1) -> "Layout":
        sub = Layout(kind, align, columns, use_property_split=self.use_property_split,
                     enabled=self.enabled)
        self.children.append(sub)
        return sub

    def _leaf(self, item: Item) -> Item:
        item.enabled = item.enabled and self.enabled
        self.children.append(item)
        return item

    def row(self, align=False, **_):
        return self._sub("row", align)

    def column(self, align=False, **_):
        return self._sub("column", align)

    def box(self):
        return self._sub("box")

    def grid_flow(self, columns=1, align=False, **_):
        return self._sub("grid", align, max(1, columns))

    def separator(self, **_):
        self._leaf(Item("label"))

    def label(self, text="", icon="NONE", **_):
        self._leaf(Item("label", text=text, icon=icon))

    def progress(self, factor=0.0, text="", **_):
        self._leaf(Item("progress", text=text, value=float(factor)))

    def template_icon(self, icon_value=0, scale=1.0):
        self._leaf(Item("icon", icon_value=icon_value, value=float(scale)))

    def operator(self, idname, text=None, icon="NONE", **_):
        import bpy
        module, name = idname.split(".")
        label = getattr(bpy.ops, module).__getattr__(name).get_rna_type().name
        item = self._leaf(Item("operator", text=label if text is None else text, icon=icon, idname=idname))
        return _Settable(item)

    def prop(self, data, prop, text=None, icon="NONE", **_):
        self._leaf(resolve_prop(data, prop, text, self.use_property_split))

    def template_ID(self, data, prop, new="", open="", **_):
        """A datablock picker: its current name, then the New and Open buttons."""
        value = getattr(data, prop)
        row = self.row(align=True)
        row.label(text=value.name if value is not None else "(none)")
        if new:
            row.operator(new, text="New")
        if open:
            row.operator(open, text="Open")


class _Settable:
    """Stands in for the operator properties that draw() fills in, and records them on the item."""

    def __init__(self, item: Item):
        object.__setattr__(self, "_item", item)

    def __setattr__(self, name, value):
        self._item.props[name] = value


def leaves(node) -> list[Item]:
    """Every Item of a recorded layout, in drawing order."""
    if isinstance(node, Item):
        return [node]
    return [leaf for child in node.children for leaf in leaves(child)]


def resolve_prop(data, prop: str, text, split: bool) -> Item:
    """A prop's UI name, widget and current value as shown, read through RNA."""
    import bpy

    if isinstance(data, _Owner):  # draw() passed its own `self`
        data = data._owner
    rna = data.bl_rna.properties[prop]
    name = rna.name if text is None else text
    value = getattr(data, prop)
    if rna.type == "ENUM":
        shown = bpy.types.UILayout.enum_item_name(data, prop, value) or str(value)
        return Item("prop", label=name if split else "", widget="enum", value=shown, split=split)
    if rna.type == "BOOLEAN":
        return Item("prop", widget="bool", value=bool(value), text=name, split=split)  # text beside the box
    if rna.type in {"INT", "FLOAT"}:
        if rna.type == "FLOAT":
            shown = f"{value:.{max(0, min(rna.precision, 3))}f}".rstrip("0").rstrip(".")
            shown += " m" if rna.unit == "LENGTH" else ""
        else:
            shown = str(value)
        return Item("prop", label=name if split else "", widget="number",
                    value=shown if split else f"{name}  {shown}", split=split)
    return Item("prop", label=name if split else "", widget="text", value=str(value), split=split)


@dataclass
class Panel:
    title: str
    layout: Layout
    child: bool = False


class _Owner:
    """`self` for a recorded draw(): a recording layout, everything else from the real owner."""

    def __init__(self, owner):
        self.layout = Layout()
        self._owner = owner

    def __getattr__(self, name):
        return getattr(self._owner, name)


def record(draw, context, owner=None) -> Layout:
    """Run draw(self, context) (a Panel's or AddonPreferences' draw) against a recording layout,
    `self` reading its properties from `owner`; returns what it drew."""
    holder = _Owner(owner)
    draw(holder, context)
    return holder.layout


# ---------------------------------------------------------------- painting

def _font(size: int) -> ImageFont.FreeTypeFont:
    """Blender's own UI font (Inter) from the bpy package; Pillow's default font otherwise."""
    try:
        import bpy
        fonts = Path(bpy.utils.system_resource("DATAFILES")) / "fonts"
        return ImageFont.truetype(str(fonts / "Inter.woff2"), size)
    except Exception:  # no bpy, or a Blender without Inter
        return ImageFont.load_default(size)


class Painter:
    def __init__(self, icons: list[Image.Image]):
        self.icons = list(icons)
        self.font = _font(11 * SCALE)
        self.image = Image.new("RGB", (WIDTH, 4000), THEME["region"])
        self.draw = ImageDraw.Draw(self.image)

    def text(self, x, y, w, text, colour, align="left"):
        text = self.fit(text, w)
        tw = self.draw.textlength(text, font=self.font)
        tx = x + (w - tw) / 2 if align == "center" else x + w - tw if align == "right" else x
        self.draw.text((tx, y + UNIT / 2), text, fill=colour, font=self.font, anchor="lm")

    def fit(self, text, w):
        while text and self.draw.textlength(text, font=self.font) > w:
            text = text[:-2] + "\u2026" if len(text) > 2 else ""
        return text

    def triangle(self, cx, cy, colour):
        """A small downward triangle (open panel, dropdown menu) centred on (cx, cy)."""
        r = 3.5 * SCALE
        self.draw.polygon([(cx - r, cy - r / 2), (cx + r, cy - r / 2), (cx, cy + r * 0.7)], fill=colour)

    def rect(self, x, y, w, h, colour):
        self.draw.rounded_rectangle((x, y, x + w - 1, y + h - 1), radius=4 * SCALE, fill=colour)

    # layout ---------------------------------------------------------

    def layout(self, node, x, y, w, left) -> int:
        """Paint node at (x, y) in width w; `left` is the content's left edge. Returns the height."""
        if isinstance(node, Item):
            return self.item(node, x, y, w, x == left)
        gap = 0 if node.align else GAP
        if node.kind == "box":
            inner = self.column(node.children, x + 6 * SCALE, y + 6 * SCALE, w - 12 * SCALE, left + 6 * SCALE,
                                gap, paint=False)
            self.rect(x, y, w, inner + 12 * SCALE, THEME["box"])
            return self.column(node.children, x + 6 * SCALE, y + 6 * SCALE, w - 12 * SCALE, left + 6 * SCALE,
                               gap) + 12 * SCALE
        if node.kind == "row":
            return self.row(node.children, x, y, w, left, gap)
        if node.kind == "grid":
            rows = [node.children[i:i + node.columns] for i in range(0, len(node.children), node.columns)]
            return self.column([Layout("row", node.align, children=r + [Layout()] * (node.columns - len(r)))
                                for r in rows], x, y, w, left, gap)
        return self.column(node.children, x, y, w, left, gap)

    def column(self, children, x, y, w, left, gap, paint=True) -> int:
        if not paint:
            saved, self.image = self.image, Image.new("RGB", (WIDTH, 4000))
            saved_draw, self.draw = self.draw, ImageDraw.Draw(self.image)
        height = 0
        for i, child in enumerate(children):
            height += (gap if i else 0) + self.layout(child, x, y + height + (gap if i else 0), w, left)
        if not paint:
            self.image, self.draw = saved, saved_draw
        return height

    def row(self, children, x, y, w, left, gap) -> int:
        fixed = [isinstance(c, Item) and c.kind == "operator" and not c.text for c in children]
        free = w - sum(UNIT for f in fixed if f) - gap * max(0, len(children) - 1)
        flexible = max(1, fixed.count(False))
        height, cx = 0, x
        for child, is_fixed in zip(children, fixed):
            cw = UNIT if is_fixed else free / flexible
            height = max(height, self.layout(child, cx, y, cw, left))
            cx += cw + gap
        return height

    def item(self, item: Item, x, y, w, at_left) -> int:
        colour = THEME["text"] if item.enabled else THEME["disabled"]
        if item.kind == "label":
            self.text(x, y, w, item.text, colour)
        elif item.kind == "operator":
            self.rect(x, y, w, UNIT, THEME["button"])
            self.text(x, y, w, item.text or ICON_GLYPHS.get(item.icon, "\u2022"), colour, "center")
        elif item.kind == "progress":
            self.rect(x, y, w, UNIT, THEME["menu"])
            self.rect(x, y, max(UNIT / 2, w * item.value), UNIT, THEME["accent"])
            self.text(x, y, w, item.text, colour, "center")
        elif item.kind == "icon":
            side = int(UNIT * item.value)
            icon = self.icons.pop(0) if self.icons else None
            side = min(side, int(w))
            if icon is not None:
                self.image.paste(icon.resize((side, side)), (int(x + (w - side) / 2), int(y)))
            return side
        elif item.kind == "prop":
            if item.split and at_left:
                lw = w * SPLIT
                self.text(x, y, lw - 8 * SCALE, item.label, THEME["label"] if item.enabled else THEME["disabled"],
                          "right")
                x, w = x + lw, w - lw
            self.widget(item, x, y, w, colour)
        return UNIT

    def widget(self, item: Item, x, y, w, colour):
        if item.widget == "bool":
            box = UNIT - 6 * SCALE
            self.rect(x, y + 3 * SCALE, box, box, THEME["accent"] if item.value else THEME["button"])
            if item.value:
                self.text(x, y, box, "\u2713", THEME["text"], "center")
            self.text(x + box + 6 * SCALE, y, w - box, item.text, colour)
        elif item.widget == "enum":
            self.rect(x, y, w, UNIT, THEME["menu"])
            self.text(x + 8 * SCALE, y, w - 24 * SCALE, str(item.value), colour)
            self.triangle(x + w - 12 * SCALE, y + UNIT / 2, THEME["label"] if item.enabled else THEME["disabled"])
        elif item.widget == "number":
            self.rect(x, y, w, UNIT, THEME["button"])
            self.text(x, y, w, str(item.value), colour, "center")
        else:
            self.rect(x, y, w, UNIT, THEME["field"])
            self.text(x + 8 * SCALE, y, w - 16 * SCALE, str(item.value), colour)

    # panels ---------------------------------------------------------

    def panels(self, panels: list[Panel]) -> Image.Image:
        y = 4 * SCALE
        for panel in panels:
            indent = 6 * SCALE if panel.child else 0
            self.rect(indent + 4 * SCALE, y, WIDTH - 2 * indent - 8 * SCALE, UNIT + 4 * SCALE, THEME["header"])
            self.triangle(indent + 16 * SCALE, y + 2 * SCALE + UNIT / 2, THEME["text"])
            self.text(indent + 26 * SCALE, y + 2 * SCALE, WIDTH, panel.title, THEME["text"])
            y += UNIT + 4 * SCALE + 6 * SCALE
            left = indent + PAD
            y += self.layout(panel.layout, left, y, WIDTH - 2 * left, left) + 10 * SCALE
        return self.image.crop((0, 0, WIDTH, int(y)))


def paint(panels: list[Panel], icons: list[Image.Image] = ()) -> Image.Image:
    """The recorded panels one under another, as in Blender's sidebar with every panel open;
    `icons` are the pictures of the template_icon items in drawing order."""
    return Painter(icons).panels(panels)


def preview_icons(previews) -> list[Image.Image]:
    """Pillow images of the previews of a bpy.utils.previews collection, in creation order."""
    import numpy as np

    icons = []
    for preview in previews.values():
        w, h = preview.image_size
        if not w or not h:
            continue
        rgba = np.empty(w * h * 4, np.float32)
        preview.image_pixels_float.foreach_get(rgba)
        rgb = np.clip(rgba.reshape(h, w, 4)[::-1, :, :3], 0.0, 1.0) ** (1 / 2.2)
        icons.append(Image.fromarray((rgb * 255 + 0.5).astype(np.uint8)))
    return icons


def sidebar_panels(addon_module: str) -> list[Panel]:
    """Every TexGAN sidebar panel of the enabled add-on, recorded in the current context."""
    import sys

    import bpy

    classes = sys.modules[f"{addon_module}.blender.panels"].classes
    return [Panel(cls.bl_label, record(cls.draw, bpy.context), child=hasattr(cls, "bl_parent_id"))
            for cls in classes]


def viewport_panels(addon_module: str, *modules: str) -> list[Panel]:
    """The 3D Viewport panels of the add-on's blender.<module>s, recorded in the current context."""
    import sys

    import bpy

    classes = [c for m in modules for c in sys.modules[f"{addon_module}.blender.{m}"].classes
               if getattr(c, "bl_space_type", "") == "VIEW_3D" and hasattr(c, "draw")]
    return [Panel(cls.bl_label, record(cls.draw, bpy.context), child=hasattr(cls, "bl_parent_id"))
            for cls in classes]


def photo_panels(addon_module: str) -> list[Panel]:
    """The 3D Viewport's Image to Material panels."""
    return viewport_panels(addon_module, "photo")


def latent_panels(addon_module: str) -> list[Panel]:
    """The 3D Viewport's Variations of This, Morph and Transform Material panels."""
    return viewport_panels(addon_module, "latent", "material_translation")


def sidebar_picture(addon_module: str) -> Image.Image:
    """The sidebar panels painted, with the gallery's current previews."""
    import sys

    gallery = sys.modules[f"{addon_module}.blender.gallery"]
    return paint(sidebar_panels(addon_module), preview_icons(gallery.collection()))


def preferences_picture(addon_module: str) -> Image.Image:
    """The add-on's preferences (Edit > Preferences > Add-ons), painted."""
    import bpy

    prefs = bpy.context.preferences.addons[addon_module].preferences
    return paint([Panel("Preferences", record(type(prefs).draw, bpy.context, prefs))])
