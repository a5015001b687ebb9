"""Build the Shapes dataset: small procedurally drawn scenes with captions and boxes.

    python data/build_shapes.py          # (re)writes data/shapes/*.parquet and data/MANIFEST.json

Every image is 48 x 48 RGB: a 3 x 3 grid of 16-pixel cells, one to three objects in distinct
cells. In every split but "offgrid" an object lies inside its cell, which is one 16-pixel patch; in
"offgrid" (an evaluation set) only its centre does. 48 pixels is the smallest size at which a
10-pixel small object still shows its shape (a diamond and a circle differ by a few pixels). The notebooks use 16-pixel patches: a ViT sees
9 patch tokens, one per cell, small enough to train CLIP on a laptop CPU in minutes; with 8-pixel
patches (an exercise of the CLIP notebook) it sees 36, and an object spreads over several.

The builder is deterministic: the same seed gives the same pixels and captions. Each object has
a shape, a colour, a size, a position (its cell) and a box. Five colour and shape combinations
never appear in the training split, so that zero-shot accuracy can be measured on concepts
the model has seen only in parts ("red" and "triangle", but never a red triangle).
"""
from __future__ import annotations

import hashlib
import io
import json
import random
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

IMAGE_SIZE = 48          # pixels per side
GRID = 3                 # cells per side
CELL = IMAGE_SIZE // GRID
SUPERSAMPLE = 4          # draw 4x larger, then average down: smooth edges, deterministic
SIZES = {"small": 10, "large": 14}   # object extent in pixels
SHAPES = ["circle", "square", "triangle", "diamond", "cross"]
COLOURS = {
    "red": (215, 35, 35),
    "orange": (245, 135, 15),
    "yellow": (225, 200, 10),
    "green": (35, 165, 55),
    "blue": (35, 75, 215),
    "purple": (135, 55, 185),
}
# One held-out combination per shape, each with a different colour: every word still occurs
# in training, only these pairings do not.
HELD_OUT = [("red", "triangle"), ("green", "circle"), ("blue", "diamond"),
            ("yellow", "cross"), ("purple", "square")]
POSITIONS = ["top left", "top", "top right", "left", "center", "right",
             "bottom left", "bottom", "bottom right"]          # row-major cell names
WHERE = {"top left": "in the top left", "top": "at the top", "top right": "in the top right",
         "left": "on the left", "center": "in the center", "right": "on the right",
         "bottom left": "in the bottom left", "bottom": "at the bottom",
         "bottom right": "in the bottom right"}
COUNT_WORDS = {1: "one", 2: "two", 3: "three"}
BACKGROUND = (238, 238, 232)

# name: (images, seed). "offgrid" is a second test set whose objects straddle patch borders
# (see place): evaluated, never trained on.
SPLITS = {"train": (10_000, 0), "val": (1_000, 1), "test": (1_000, 2), "offgrid": (500, 4)}
DATA_DIR = Path(__file__).resolve().parent
OUT_DIR = DATA_DIR / "shapes"
MANIFEST = DATA_DIR / "MANIFEST.json"


def draw_object(draw: ImageDraw.ImageDraw, shape: str, box: tuple, fill: tuple) -> None:
    """Draw one shape filling box = (x0, y0, x1, y1) in supersampled pixels."""
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    if shape == "circle":
        draw.ellipse(box, fill=fill)
    elif shape == "square":
        m = (x1 - x0) * 0.08     # a square filling its box looks bigger than the others
        draw.rectangle((x0 + m, y0 + m, x1 - m, y1 - m), fill=fill)
    elif shape == "triangle":
        draw.polygon([(cx, y0), (x1, y1), (x0, y1)], fill=fill)
    elif shape == "diamond":
        draw.polygon([(cx, y0), (x1, cy), (cx, y1), (x0, cy)], fill=fill)
    elif shape == "cross":
        t = (x1 - x0) / 6        # half the bar thickness: bars a third of the extent wide
        draw.rectangle((cx - t, y0, cx + t, y1), fill=fill)
        draw.rectangle((x0, cy - t, x1, cy + t), fill=fill)
    else:
        raise ValueError(f"unknown shape {shape!r}")


def on_grid_box(obj: dict, rng: random.Random) -> list[int]:
    """The object's box (pixels, x1/y1 exclusive) inside its cell, which is one 16-pixel patch."""
    extent = SIZES[obj["size"]]
    row, col = divmod(POSITIONS.index(obj["position"]), GRID)
    slack = (CELL - extent) // 2           # how far the object may move inside its cell
    x0 = col * CELL + (CELL - extent) // 2 + rng.randint(-slack, slack)
    y0 = row * CELL + (CELL - extent) // 2 + rng.randint(-slack, slack)
    return [x0, y0, x0 + extent, y0 + extent]


def off_grid_boxes(objects: list[dict], rng: random.Random) -> list[list[int]]:
    """Boxes whose centres move anywhere inside their cells (up to 7 pixels from the cell's centre),
    so that an object straddles two or four patches; inside the image and at least a pixel apart
    (the whole scene is drawn again until they are)."""
    def box(obj):
        extent = SIZES[obj["size"]]
        row, col = divmod(POSITIONS.index(obj["position"]), GRID)
        x0, y0 = (min(max(c * CELL + (CELL - extent) // 2 + rng.randint(-7, 7), 0), IMAGE_SIZE - extent)
                  for c in (col, row))
        return [x0, y0, x0 + extent, y0 + extent]

    def apart(a, b):
        return a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1]

    while True:
        boxes = [box(obj) for obj in objects]
        if all(apart(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:]):
            return boxes


def render(objects: list[dict], rng: random.Random, off_grid: bool = False) -> np.ndarray:
    """Objects -> (H, W, 3) uint8 image. Fills in each object's 'box' (pixels, x1/y1 exclusive)."""
    big = IMAGE_SIZE * SUPERSAMPLE
    shade = rng.randint(-6, 6)
    image = Image.new("RGB", (big, big), tuple(c + shade for c in BACKGROUND))
    draw = ImageDraw.Draw(image)
    boxes = off_grid_boxes(objects, rng) if off_grid else None
    for i, obj in enumerate(objects):
        extent = SIZES[obj["size"]]
        obj["box"] = boxes[i] if off_grid else on_grid_box(obj, rng)
        x0, y0 = obj["box"][:2]
        fill = tuple(min(255, max(0, c + rng.randint(-12, 12))) for c in COLOURS[obj["colour"]])
        s = SUPERSAMPLE
        draw_object(draw, obj["shape"], (x0 * s, y0 * s, (x0 + extent) * s - 1, (y0 + extent) * s - 1), fill)
    image = image.resize((IMAGE_SIZE, IMAGE_SIZE), Image.BOX)
    return np.asarray(image, dtype=np.uint8)


def describe(obj: dict, size: bool = True, where: bool = False) -> str:
    words = ([obj["size"]] if size else []) + [obj["colour"], obj["shape"]]
    article = "an" if words[0][0] in "aeiou" else "a"
    return " ".join([article, *words]) + (" " + WHERE[obj["position"]] if where else "")


def join(phrases: list[str]) -> str:
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def captions_for(objects: list[dict], rng: random.Random) -> list[str]:
    """Four captions from five template families: different words, orders and detail."""
    n = len(objects)
    shuffled = rng.sample(objects, n)
    families = [
        lambda: join([describe(o, where=True) for o in objects]),
        lambda: f"{COUNT_WORDS[n]} shape{'s' if n > 1 else ''}: " + join([describe(o, size=False) for o in shuffled]),
        lambda: "there is " + join([describe(o, where=True) for o in shuffled]),
        lambda: "a picture of " + join([describe(o, size=rng.random() < 0.5) for o in shuffled]),
        lambda: ". ".join(f"the {o['colour']} {o['shape']} is {WHERE[o['position']]}" for o in shuffled),
    ]
    chosen = sorted(rng.sample(range(len(families)), 4))
    return [families[i]() for i in chosen]


def random_scene(rng: random.Random, allow_held_out: bool) -> list[dict]:
    combos = [(c, s) for c in COLOURS for s in SHAPES if allow_held_out or (c, s) not in HELD_OUT]
    n = rng.choice([1, 2, 3])
    cells = sorted(rng.sample(range(GRID * GRID), n))
    objects = []
    for cell in cells:
        colour, shape = rng.choice(combos)
        objects.append({"shape": shape, "colour": colour, "size": rng.choice(list(SIZES)),
                        "position": POSITIONS[cell]})
    return objects


def make_row(objects: list[dict], rng: random.Random, off_grid: bool = False) -> dict:
    pixels = render(objects, rng, off_grid)
    return {"pixels": pixels, "objects": objects, "captions": captions_for(objects, rng),
            "n_objects": len(objects),
            "held_out": any((o["colour"], o["shape"]) in HELD_OUT for o in objects)}


def build_split(name: str) -> list[dict]:
    if name == "zeroshot":
        # every colour x shape x size x position once, one object per image
        rng = random.Random(3)
        return [make_row([{"shape": s, "colour": c, "size": z, "position": p}], rng)
                for c in COLOURS for s in SHAPES for z in SIZES for p in POSITIONS]
    count, seed = SPLITS[name]
    rng = random.Random(seed)
    return [make_row(random_scene(rng, allow_held_out=name != "train"), rng, off_grid=name == "offgrid")
            for _ in range(count)]


def content_sha256(rows: list[dict]) -> str:
    """Hash of what the rows mean (pixels, objects, captions), independent of PNG and parquet
    encoders, so that a rebuild can be compared even where a library version differs."""
    h = hashlib.sha256()
    for row in rows:
        h.update(np.ascontiguousarray(row["pixels"]).tobytes())
        h.update(json.dumps({k: v for k, v in row.items() if k != "pixels"}, sort_keys=True).encode())
    return h.hexdigest()


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def write_parquet(rows: list[dict], path: Path) -> None:
    import datasets
    features = datasets.Features({
        "image": datasets.Image(),
        "captions": datasets.Sequence(datasets.Value("string")),
        "objects": [{"shape": datasets.Value("string"), "colour": datasets.Value("string"),
                     "size": datasets.Value("string"), "position": datasets.Value("string"),
                     "box": datasets.Sequence(datasets.Value("int32"), length=4)}],
        "n_objects": datasets.Value("int32"),
        "held_out": datasets.Value("bool"),
    })
    table = {"image": [{"bytes": png_bytes(r["pixels"]), "path": None} for r in rows]}
    for key in ["captions", "objects", "n_objects", "held_out"]:
        table[key] = [r[key] for r in rows]
    datasets.Dataset.from_dict(table, features=features).to_parquet(str(path))


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(out_dir: Path = OUT_DIR) -> dict:
    """Write every split to out_dir; return the manifest entries {relative path: hashes}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = {}
    for name in [*SPLITS, "zeroshot"]:
        rows = build_split(name)
        path = out_dir / f"{name}.parquet"
        write_parquet(rows, path)
        entries[f"shapes/{name}.parquet"] = {"sha256": sha256_file(path), "rows": len(rows),
                                             "content_sha256": content_sha256(rows),
                                             "rebuild": "make data"}
        print(f"{path}: {len(rows)} rows, {path.stat().st_size / 1e6:.2f} MB")
    return entries


def update_manifest(entries: dict) -> None:
    manifest = json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {}
    manifest.update(entries)
    MANIFEST.write_text(json.dumps(dict(sorted(manifest.items())), indent=2) + "\n")


if __name__ == "__main__":
    update_manifest(build(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT_DIR))
