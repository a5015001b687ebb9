"""Questions and answers about a Shapes scene, written from its objects alone (never its pixels).

This is the kit's text-only teacher, in the role GPT-4 played for LLaVA: given what the dataset
records about an image (objects with colour, shape, size, position and box, and the captions) it
writes questions with their answers, descriptions and short reasoning. The LLaVA assignment turns
them into conversations; the language model's text-only pretraining uses them with the scene
written out as text instead of shown as an image.
"""
from __future__ import annotations

import random

COLOURS = ["red", "orange", "yellow", "green", "blue", "purple"]
SHAPES = ["circle", "square", "triangle", "diamond", "cross"]
POSITIONS = ["top left", "top", "top right", "left", "center", "right", "bottom left", "bottom", "bottom right"]
COUNT_WORDS = {0: "zero", 1: "one", 2: "two", 3: "three"}
QUESTION_TYPES = ["colour", "shape", "count", "position", "yes/no"]
ANSWER_WORDS = {"colour": set(COLOURS), "shape": set(SHAPES), "count": set(COUNT_WORDS.values()),
                "position": set(POSITIONS), "yes/no": {"yes", "no"}}


def name(obj: dict) -> str:
    return f"{obj['colour']} {obj['shape']}"


def article(words: str) -> str:
    return ("an " if words[0] in "aeiou" else "a ") + words


def unique(objects: list[dict], key) -> list[dict]:
    """Objects whose key (for example their shape) no other object shares."""
    values = [key(o) for o in objects]
    return [o for o in objects if values.count(key(o)) == 1]


def question(objects: list[dict], kind: str, rng: random.Random) -> tuple[str, str]:
    """One (question, short answer) of a kind, always answerable from the objects."""
    if kind == "colour":
        candidates = unique(objects, lambda o: o["shape"])
        obj = rng.choice(candidates) if candidates else rng.choice(objects)
        if candidates:
            return f"What colour is the {obj['shape']}?", obj["colour"]
        return f"What colour is the shape {where(obj)}?", obj["colour"]
    if kind == "shape":
        obj = rng.choice(objects)
        return f"What shape is {where(obj)}?", obj["shape"]
    if kind == "count":
        return rng.choice(["How many shapes are there?", "How many shapes are in the image?"]), COUNT_WORDS[len(objects)]
    if kind == "position":
        candidates = unique(objects, name)
        obj = rng.choice(candidates or objects)
        return f"Where is the {name(obj)}?", obj["position"]
    if kind == "yes/no":
        present = {name(o) for o in objects}
        if rng.random() < 0.5:
            return f"Is there {article(rng.choice(sorted(present)))}?", "yes"
        absent = [f"{c} {s}" for c in COLOURS for s in SHAPES if f"{c} {s}" not in present]
        return f"Is there {article(rng.choice(absent))}?", "no"
    raise ValueError(f"unknown question type {kind!r}")


def where(obj: dict) -> str:
    return {"top": "at the top", "bottom": "at the bottom", "left": "on the left", "right": "on the right",
            "center": "in the center"}.get(obj["position"], f"in the {obj['position']}")


def description(objects: list[dict]) -> str:
    """A detailed description, object by object in reading order."""
    n = len(objects)
    parts = [f"There {'is' if n == 1 else 'are'} {COUNT_WORDS[n]} shape{'s' if n > 1 else ''}."]
    for obj in objects:
        parts.append(f"{article(obj['size'] + ' ' + name(obj)).capitalize()} is {where(obj)}.")
    return " ".join(parts)


def reasoning(objects: list[dict], rng: random.Random) -> tuple[str, str]:
    """A question that needs a step of reasoning, with an answer that gives the reason."""
    n = len(objects)
    if n >= 2 and rng.random() < 0.5:
        a, b = rng.sample(objects, 2)
        row = {p: POSITIONS.index(p) // 3 for p in POSITIONS}
        if row[a["position"]] != row[b["position"]]:
            higher, lower = (a, b) if row[a["position"]] < row[b["position"]] else (b, a)
            return (f"Which is higher up, the {name(a)} or the {name(b)}?",
                    f"The {name(higher)}, because it is {where(higher)} and the {name(lower)} is {where(lower)}.")
    obj = rng.choice(objects)
    left = COUNT_WORDS[n - 1]
    return (f"If the {name(obj)} were taken away, how many shapes would be left?",
            f"{left.capitalize()}, because there {'is' if n == 1 else 'are'} {COUNT_WORDS[n]} "
            f"shape{'s' if n > 1 else ''} and the {name(obj)} is one of them.")


def scene_text(objects: list[dict]) -> str:
    """The scene written out, as the text-only pretraining shows it instead of an image."""
    return " ".join(f"{article(o['size'] + ' ' + name(o)).capitalize()} is {where(o)}." for o in objects)
