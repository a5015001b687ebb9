"""Damaged notebooks for fuzzing the pre-check: a good submission with random damage applied.

Every damage is something a real file can carry: a field of the wrong type, missing, null,
nested, oversize or holding invalid text; cells dropped, duplicated, shuffled or replaced by
junk; a file cut short, with bytes flipped or with invalid UTF-8. Used by tests/test_precheck.py
(through hypothesis) and by the benchmark (10,000 of them, seeded).
"""
from __future__ import annotations

import json
import random

FIELDS = ["cell_type", "source", "metadata", "nbgrader", "grade_id", "solution", "grade", "points",
          "schema_version", "id", "outputs", "execution_count", "locked"]
NESTED = "\u0000nested\u0000"        # replaced by deeply nested brackets in the final text


def junk(rng: random.Random, depth: int = 0):
    """A JSON value of any type, now and then huge, nested or holding invalid text."""
    kind = rng.randrange(12)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False, 0, -1, 3, 1e308, -0.0, 2 ** 70])
    if kind == 2:
        return rng.choice(["", "x", "\ud800", "\udfff lone surrogates", "nul\u0000byte", "\u202eright-to-left",
                           "def f(:\n", "é" * 10, "test_tokenize", "clip_loss", "tokenize"])
    if kind == 3:
        return "y" * rng.choice([10, 10_000, 1_200_000])
    if kind == 4 and depth < 3:
        return [junk(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 5 and depth < 3:
        return {rng.choice(FIELDS): junk(rng, depth + 1) for _ in range(rng.randrange(4))}
    if kind == 6:
        return NESTED
    if kind == 7:
        return ["def tokenize(texts):\n", "    return texts\n"]
    if kind == 8:
        return [1, "a", None]
    return rng.choice(["code", "markdown", "raw", "heading", "Code", ""])


def _cell_path(rng: random.Random, cell) -> tuple[dict, str] | None:
    """A random (container, key) inside a cell: the cell, its metadata or its nbgrader metadata."""
    if not isinstance(cell, dict):
        return None
    meta = cell.get("metadata")
    nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
    places = [(cell, k) for k in ("cell_type", "source", "metadata", "id", "outputs", "execution_count")]
    if isinstance(meta, dict):
        places += [(meta, "nbgrader"), (meta, "deletable"), (meta, rng.choice(FIELDS))]
    if isinstance(nbg, dict):
        places += [(nbg, k) for k in ("grade_id", "solution", "grade", "points", "schema_version", "locked")]
    return rng.choice(places)


def damage(notebook: dict, rng: random.Random) -> dict:
    """One random damage to the notebook (in place); returns it."""
    cells = notebook.get("cells")
    op = rng.randrange(10)
    if not isinstance(cells, list) or not cells or op == 0:
        key = rng.choice(["cells", "metadata", "nbformat", "nbformat_minor", "extra"])
        if rng.random() < 0.5:
            notebook.pop(key, None)
        else:
            notebook[key] = junk(rng)
        return notebook
    index = rng.randrange(len(cells))
    if op <= 4:                                   # one field set to junk, or removed
        place = _cell_path(rng, cells[index])
        if place is None:
            cells[index] = junk(rng)
        elif rng.random() < 0.3:
            place[0].pop(place[1], None)
        else:
            place[0][place[1]] = junk(rng)
    elif op == 5:
        cells[index] = junk(rng)
    elif op == 6:
        cells.insert(rng.randrange(len(cells) + 1), json.loads(json.dumps(cells[index])))
    elif op == 7:
        del cells[index]
    elif op == 8:
        rng.shuffle(cells)
    else:
        cells.insert(index, {"cell_type": "code", "source": junk(rng), "metadata": junk(rng), "outputs": []})
    return notebook


def damaged_file(good: dict, rng: random.Random, steps: int | None = None) -> bytes:
    """A good notebook (as JSON data) with 1-6 random damages, as the bytes of a file; now and
    then the file itself is cut, flipped or made invalid UTF-8."""
    notebook = json.loads(json.dumps(good))
    for _ in range(steps or rng.randint(1, 6)):
        notebook = damage(notebook, rng) if isinstance(notebook, dict) else {"cells": notebook}
    text = json.dumps(notebook).replace(json.dumps(NESTED), "[" * 50_000 + "]" * 50_000)
    data = text.encode("utf-8", "surrogatepass")
    byte_op = rng.randrange(12)
    if byte_op == 0:
        data = data[: rng.randrange(len(data) + 1)]
    elif byte_op == 1:
        spots = bytearray(data)
        for _ in range(rng.randint(1, 20)):
            spots[rng.randrange(len(spots))] = rng.randrange(256)
        data = bytes(spots)
    elif byte_op == 2:
        at = rng.randrange(len(data) + 1)
        data = data[:at] + b"\xff\xfe\xc3" + data[at:]
    return data
