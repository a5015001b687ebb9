"""Questions and answers about a Shapes scene, written from its objects alone (never its pixels).

This is the kit's text-only teacher, in the role GPT-4 played for LLaVA: given what the dataset
records about an image (objects with colour, shape, size, position and box, and the captions) it
writes questions with their answers, descriptions and short reasoning. The LLaVA assignment turns
them into conversations; the language model's text-only pretraining uses them with the scene
written out as text instead of shown as an image.
"""
from __future__ import annotations

import random
import re

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


# Two disjoint sets of question templates. The language model's text pretraining (`make
# checkpoints`) asks in the "pretrain" phrasing only; LLaVA's instruction data (stage 2) and the
# evaluation ask in the "instruct" phrasing, so that after stage 1 every evaluation question is one the
# model has never read, as the lecture's instruction-following comparison needs.
TEMPLATES = {
    "instruct": {
        "colour": "What colour is the {shape}?",
        "colour at": "What colour is the shape {where}?",
        "shape": "What shape is {where}?",
        "count": ["How many shapes are there?", "How many shapes are in the image?"],
        "position": "Where is the {name}?",
        "yes/no": "Is there {a_name}?",
        "describe": "Describe the image in detail.",
        "higher": "Which is higher up, the {a} or the {b}?",
        "left after": "If the {name} were taken away, how many shapes would be left?",
    },
    "pretrain": {
        "colour": "Tell me the colour of the {shape}.",
        "colour at": "Name the colour of the shape {where}.",
        "shape": "Name the shape {where}.",
        "count": ["Count the shapes.", "Give the number of shapes."],
        "position": "Say where the {name} lies.",
        "yes/no": "Check for {a_name}.",
        "describe": "Write out the whole scene.",
        "higher": "Of the {a} and the {b}, say which one sits higher.",
        "left after": "Take away the {name} and count what remains.",
    },
}


def ask(template: str | list[str], rng: random.Random, **slots) -> str:
    return (rng.choice(template) if isinstance(template, list) else template).format(**slots)


def question(objects: list[dict], kind: str, rng: random.Random, phrasing: str = "instruct") -> tuple[str, str]:
    """One (question, short answer) of a kind, always answerable from the objects."""
    t = TEMPLATES[phrasing]
    if kind == "colour":
        candidates = unique(objects, lambda o: o["shape"])
        obj = rng.choice(candidates) if candidates else rng.choice(objects)
        if candidates:
            return ask(t["colour"], rng, shape=obj["shape"]), obj["colour"]
        return ask(t["colour at"], rng, where=where(obj)), obj["colour"]
    if kind == "shape":
        obj = rng.choice(objects)
        return ask(t["shape"], rng, where=where(obj)), obj["shape"]
    if kind == "count":
        return ask(t["count"], rng), COUNT_WORDS[len(objects)]
    if kind == "position":
        candidates = unique(objects, name)
        obj = rng.choice(candidates or objects)
        return ask(t["position"], rng, name=name(obj)), obj["position"]
    if kind == "yes/no":
        present = {name(o) for o in objects}
        if rng.random() < 0.5:
            return ask(t["yes/no"], rng, a_name=article(rng.choice(sorted(present)))), "yes"
        absent = [f"{c} {s}" for c in COLOURS for s in SHAPES if f"{c} {s}" not in present]
        return ask(t["yes/no"], rng, a_name=article(rng.choice(absent))), "no"
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


def describe_request(phrasing: str = "instruct") -> str:
    return TEMPLATES[phrasing]["describe"]


def reasoning(objects: list[dict], rng: random.Random, phrasing: str = "instruct") -> tuple[str, str]:
    """A question that needs a step of reasoning, with an answer that gives the reason."""
    t = TEMPLATES[phrasing]
    n = len(objects)
    if n >= 2 and rng.random() < 0.5:
        a, b = rng.sample(objects, 2)
        row = {p: POSITIONS.index(p) // 3 for p in POSITIONS}
        if row[a["position"]] != row[b["position"]]:
            higher, lower = (a, b) if row[a["position"]] < row[b["position"]] else (b, a)
            return (ask(t["higher"], rng, a=name(a), b=name(b)),
                    f"The {name(higher)}, because it is {where(higher)} and the {name(lower)} is {where(lower)}.")
    obj = rng.choice(objects)
    left = COUNT_WORDS[n - 1]
    return (ask(t["left after"], rng, name=name(obj)),
            f"{left.capitalize()}, because there {'is' if n == 1 else 'are'} {COUNT_WORDS[n]} "
            f"shape{'s' if n > 1 else ''} and the {name(obj)} is one of them.")


BOX_LINE = re.compile(r"^(\w+) (\w+): \[([-\d.e]+), ([-\d.e]+), ([-\d.e]+), ([-\d.e]+)\]$")


def read_context(captions: list[str], boxes: str, image_size: int = 48) -> list[dict]:
    """The teacher's reading of one image's two contexts (never its pixels or its object records).

    boxes: one "<colour> <shape>: [x1, y1, x2, y2]" line per object, normalised to [0, 1] (the LLaVA
    assignment's boxes_text). The position is the 3 x 3 cell that holds the box's centre; the size is
    the word a caption uses for the object at that place ("a small red circle in the top left"), or
    else the box's extent.
    """
    cell = image_size / 3
    objects = []
    for line in boxes.strip().splitlines():
        match = BOX_LINE.match(line.strip())
        if not match:
            raise ValueError(f"the teacher cannot read the box line {line!r}: it expects "
                             f"'<colour> <shape>: [x1, y1, x2, y2]' with numbers in [0, 1], one object per line "
                             f"(the LLaVA assignment's boxes_text, Task 3)")
        colour, shape, *box = match.groups()
        x1, y1, x2, y2 = (float(v) * image_size for v in box)
        row, col = min(int((y1 + y2) / 2 // cell), 2), min(int((x1 + x2) / 2 // cell), 2)
        position = POSITIONS[3 * row + col]
        named = re.search(rf"\b(small|large) {colour} {shape} {where({'position': position})}\b", " ".join(captions))
        size = named.group(1) if named else ("small" if x2 - x1 < 12 else "large")
        objects.append({"colour": colour, "shape": shape, "size": size, "position": position})
    return objects


MENTION = re.compile(rf"\b(?:(?:small|large) )?({'|'.join(COLOURS)}) ({'|'.join(SHAPES)}) (?:is )?"
                     rf"(?:at the |on the |in the )({'|'.join(sorted(POSITIONS, key=len, reverse=True))})\b", re.I)


def description_score(text: str, objects: list[dict]) -> dict:
    """How well a free-text description names the scene: the objects it names with the right colour,
    shape and place, in a sentence or a caption ("a red circle in the top left"); precision is over
    the objects it names, recall over those in the image; and whether it says how many there are."""
    said = [tuple(m.lower() for m in match) for match in MENTION.findall(text)]
    truth = [(o["colour"], o["shape"], o["position"]) for o in objects]
    right = sum(min(said.count(t), truth.count(t)) for t in set(truth))
    count = re.search(r"\b(?:there (?:is|are) )?(one|two|three) shapes?\b", text, re.I)
    return {"precision": right / len(said) if said else 0.0, "recall": right / len(truth),
            "count": bool(count) and count.group(1).lower() == COUNT_WORDS[len(objects)]}


def reasoning_correct(got: str, answer: str) -> bool:
    """A reasoning answer is right when its conclusion (the part before ", because") is the teacher's."""
    return got.split(",")[0].strip().lower() == answer.split(",")[0].strip().lower()


def scene_text(objects: list[dict]) -> str:
    """The scene written out, as the text-only pretraining shows it instead of an image."""
    return " ".join(f"{article(o['size'] + ' ' + name(o)).capitalize()} is {where(o)}." for o in objects)
