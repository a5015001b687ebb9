"""The kit's small language model, its tokenizer, the text-only teacher and the checkpoints."""
import random
import re

import pytest
import torch
import torch.nn.functional as F

from mmkit import lm, shapes_qa
from mmkit.data import data_file, load_shapes

SCENE = [{"shape": "circle", "colour": "red", "size": "small", "position": "top left", "box": [1, 1, 11, 11]},
         {"shape": "square", "colour": "blue", "size": "large", "position": "center", "box": [17, 17, 31, 31]}]


def test_tokenizer_keeps_special_tokens_and_round_trips():
    tokenizer = lm.WordTokenizer(["is", "there", "a", "red", "circle", "?", "yes"])
    text = f"{lm.BOS} {lm.USER} {lm.IMAGE} Is there a red circle? {lm.ASSISTANT} yes {lm.EOS}"
    assert tokenizer.split(text) == [lm.BOS, lm.USER, lm.IMAGE, "is", "there", "a", "red", "circle", "?",
                                     lm.ASSISTANT, "yes", lm.EOS]
    assert tokenizer.decode(tokenizer.encode(text)) == f"{lm.BOS} {lm.USER} {lm.IMAGE} is there a red circle? {lm.ASSISTANT} yes {lm.EOS}"
    assert tokenizer.encode("zebra") == [tokenizer.id(lm.UNK)]


def test_gpt_is_causal_and_ignores_padding():
    torch.manual_seed(0)
    model = lm.GPT(lm.GPTConfig(vocab_size=20, context_length=16, width=32, layers=2, heads=4)).eval()
    ids = torch.randint(0, 20, (2, 10))
    logits, _ = model(model.embed(ids))
    changed = ids.clone()
    changed[:, 6:] = (changed[:, 6:] + 1) % 20
    logits2, _ = model(model.embed(changed))
    assert torch.allclose(logits[:, :6], logits2[:, :6], atol=1e-5), "the future leaked into the past"
    mask = torch.ones(2, 10, dtype=torch.long)
    mask[0, 7:] = 0
    padded, _ = model(model.embed(changed), attention_mask=mask)
    assert torch.allclose(padded[0, :7], logits2[0, :7], atol=1e-5)


def test_gpt_shifts_labels_itself():
    torch.manual_seed(0)
    model = lm.GPT(lm.GPTConfig(vocab_size=20, context_length=16, width=32, layers=1, heads=2))
    ids = torch.randint(0, 20, (3, 8))
    labels = ids.clone()
    labels[:, :3] = lm.IGNORE_INDEX
    logits, loss = model(model.embed(ids), labels=labels)
    expected = F.cross_entropy(logits[:, 2:-1].reshape(-1, 20), ids[:, 3:].reshape(-1))
    assert torch.allclose(loss, expected, atol=1e-6)


def test_teacher_answers_from_the_objects():
    rng = random.Random(0)
    for kind in shapes_qa.QUESTION_TYPES:
        for _ in range(20):
            question, answer = shapes_qa.question(SCENE, kind, rng)
            assert answer in shapes_qa.ANSWER_WORDS[kind], (kind, question, answer)
    assert shapes_qa.question(SCENE, "count", rng)[1] == "two"
    assert shapes_qa.description(SCENE).startswith("There are two shapes.")
    question, answer = shapes_qa.reasoning(SCENE, random.Random(3))
    assert "because" in answer


def boxes_text(objects):
    return "\n".join(f"{o['colour']} {o['shape']}: {[round(v / 48, 3) for v in o['box']]}" for o in objects)


@pytest.mark.parametrize("split", ["train", "offgrid"])
def test_teacher_reads_the_scene_from_captions_and_boxes_alone(split):
    shapes = load_shapes(split)
    for objects, captions in zip(shapes["objects"], shapes["captions"]):
        want = [{k: o[k] for k in ("colour", "shape", "size", "position")} for o in objects]
        assert shapes_qa.read_context(captions, boxes_text(objects)) == want
    with pytest.raises(ValueError, match="boxes_text"):
        shapes_qa.read_context([], "red circle [0.1, 0.1, 0.3, 0.3]")


def template_pattern(template: str) -> re.Pattern:
    """A template as a pattern that matches any filling of its slots."""
    return re.compile(r"\S.*?".join(re.escape(part) for part in re.split(r"\{\w+\}", template)), re.I)


def test_pretraining_text_never_asks_in_the_instruction_phrasing(builder):
    corpus = "\n".join(builder.pretraining_corpus())
    instruct = shapes_qa.TEMPLATES["instruct"]
    templates = [t for v in instruct.values() for t in (v if isinstance(v, list) else [v])]
    for template in templates:
        assert not template_pattern(template).search(corpus), f"pretraining asks {template!r}"
    for template in shapes_qa.TEMPLATES["pretrain"].values():
        for t in template if isinstance(template, list) else [template]:
            assert template_pattern(t).search(corpus), f"the pretrain phrasing {t!r} never occurs (is the test blind?)"
    assert "?" not in corpus


def test_description_and_reasoning_scores():
    truth = shapes_qa.description(SCENE)
    assert shapes_qa.description_score(truth, SCENE) == {"precision": 1.0, "recall": 1.0, "count": True}
    half = "There are three shapes. A small red circle is in the top left. A large red square is in the center."
    assert shapes_qa.description_score(half, SCENE) == {"precision": 0.5, "recall": 0.5, "count": False}
    assert shapes_qa.reasoning_correct("One, because there are two shapes.", "One, because there are two shapes and ...")
    assert not shapes_qa.reasoning_correct("Two, because", "One, because")


def test_shipped_checkpoints_load():
    model, tokenizer = lm.load_checkpoint(data_file("checkpoints/lm.pt"), data_file("checkpoints/lm-tokenizer.json"))
    assert model.cfg.vocab_size == len(tokenizer) and lm.SYSTEM.split()[1] in tokenizer.stoi
    blob = torch.load(data_file("checkpoints/clip_vision.pt"), weights_only=True)
    assert blob["zero_shot_seen"] >= 0.9 and "conv1.weight" in blob["state_dict"]


@pytest.mark.usefixtures("one_thread")
def test_language_model_pretraining_is_deterministic(builder, tmp_path, monkeypatch):
    states = []
    for run in range(2):
        monkeypatch.setattr(builder, "OUT", tmp_path / str(run))
        builder.build_lm(steps=3, batch_size=8)
        states.append(torch.load(tmp_path / str(run) / "lm.pt", weights_only=True)["state_dict"])
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert (tmp_path / "0" / "lm-tokenizer.json").read_text() == data_file("checkpoints/lm-tokenizer.json").read_text()
