"""Realistic mistakes and correct alternatives for the LLaVA assignment (see grader/samples.py)."""
from grader.samples import Alternative, Mutant

MUTANTS = [
    Mutant("vision-last-layer", "vision_features", "return hidden[-2][:, 1:]", "return hidden[-1][:, 1:]",
           ["test_vision_features"], "the last layer instead of the second-to-last"),
    Mutant("vision-keeps-class-token", "vision_features", "return hidden[-2][:, 1:]", "return hidden[-2]",
           ["test_vision_features"], "the class token kept"),
    Mutant("projector-no-gelu", "projector",
           "nn.Sequential(nn.Linear(vision_width, lm_width), nn.GELU(), nn.Linear(lm_width, lm_width))",
           "nn.Sequential(nn.Linear(vision_width, lm_width), nn.Linear(lm_width, lm_width))",
           ["test_projector"], "two linear layers without the GELU"),
    Mutant("projector-one-layer", "projector",
           "nn.Sequential(nn.Linear(vision_width, lm_width), nn.GELU(), nn.Linear(lm_width, lm_width))",
           "nn.Sequential(nn.Linear(vision_width, lm_width), nn.GELU())",
           ["test_projector"], "one linear layer and a GELU: the second layer of mlp2x_gelu is missing"),
    Mutant("boxes-in-pixels", "boxes_text", "round(v / image_size, 3)", "v", ["test_boxes_text"],
           "boxes not normalised"),
    Mutant("labels-on-prompt", "conversation_tokens", "labels += [IGNORE_INDEX] * len(prompt) + reply",
           "labels += prompt + reply", ["test_conversation_tokens"], "the prompt is learned too"),
    Mutant("no-end-token", "conversation_tokens", "reply = tokenizer.encode(answer) + [tokenizer.id(EOS)]",
           "reply = tokenizer.encode(answer)", ["test_conversation_tokens"], "answers without </s>"),
    Mutant("labels-pre-shifted", "conversation_tokens", "labels += [IGNORE_INDEX] * len(prompt) + reply",
           "labels += [IGNORE_INDEX] * (len(prompt) - 1) + reply + [IGNORE_INDEX]", ["test_conversation_tokens"],
           "labels shifted by one for next-token prediction, which the language model does again"),
    Mutant("last-answer-only", "conversation_tokens", "labels += [IGNORE_INDEX] * len(prompt) + reply",
           "labels = [IGNORE_INDEX] * (len(ids) - len(reply)) + reply", ["test_conversation_tokens"],
           "only the last answer of a conversation is learned"),
    Mutant("image-every-turn", "conversation_tokens", "{IMAGE + ' ' if i == 0 else ''}", "{IMAGE + ' '}",
           ["test_conversation_tokens"], "<image> repeated before every question, not only the first"),
    Mutant("image-at-start", "splice_image", "inputs = torch.cat([text[:at], image_tokens, text[at + 1:]])",
           "inputs = torch.cat([image_tokens, text[:at], text[at + 1:]])", ["test_splice_image"],
           "image tokens put first instead of at <image>"),
    Mutant("image-labelled", "splice_image",
           "ignore = torch.full((len(image_tokens),), IGNORE_INDEX, dtype=labels.dtype, device=labels.device)",
           "ignore = ids[at].repeat(len(image_tokens))", ["test_splice_image"],
           "image positions labelled with the <image> id"),
    Mutant("labels-shifted-twice", "pad_batch", "inputs[i, :n], mask[i, :n], labels[i, :n] = embeds, 1, lab",
           "inputs[i, :n], mask[i, :n], labels[i, :n] = embeds, 1, torch.cat([lab[1:], lab.new_tensor([IGNORE_INDEX])])",
           ["test_pad_batch"], "labels shifted here and again by the model"),
    Mutant("padding-attended", "pad_batch", "mask = torch.zeros(B, T, dtype=torch.long)",
           "mask = torch.ones(B, T, dtype=torch.long)", ["test_pad_batch"], "padding not masked"),
    Mutant("vision-trainable", "set_trainable", "model.vision.requires_grad_(False)",
           "model.vision.requires_grad_(True)", ["test_set_trainable"], "the vision tower left trainable"),
    Mutant("lm-trains-in-stage-1", "set_trainable", "model.lm.requires_grad_(stage == 2)",
           "model.lm.requires_grad_(True)", ["test_set_trainable"], "the language model trains in stage 1"),
    Mutant("no-stop-at-eos", "generate", "        if token == tokenizer.id(EOS):\n            break\n", "",
           ["test_generate"], "generation does not stop at </s>"),
    Mutant("temperature-ignored", "generate", "probs = F.softmax(logits / temperature, dim=-1)",
           "probs = F.softmax(logits, dim=-1)", ["test_generate"], "sampling ignores the temperature"),
    Mutant("projector-frozen-in-stage-2", "set_trainable", "model.projector.requires_grad_(True)",
           "model.projector.requires_grad_(stage == 1)", ["test_set_trainable"],
           "stage 2 freezes the projector (LLaVA trains it with the language model)"),
    Mutant("optimiser-gets-projector-only", "set_trainable", "return [p for p in model.parameters() if p.requires_grad]",
           "return list(model.projector.parameters())", ["test_set_trainable"],
           "the projector's parameters returned in both stages: in stage 2 the language model never changes"),
    Mutant("lm-never-trains", "set_trainable", "model.lm.requires_grad_(stage == 2)",
           "model.lm.requires_grad_(False)", ["test_set_trainable"],
           "the language model stays frozen in stage 2: no visual instruction tuning of the LLM"),
    Mutant("generate-without-image", "generate",
           "embeds, _ = splice_image(torch.tensor(prompt, device=device), torch.tensor(prompt, device=device),\n"
           "                             image_tokens, model.lm.embed)           # (T, D)",
           "embeds = model.lm.embed(torch.tensor(prompt, device=device))", ["test_generate"],
           "the question without the image: the model answers blind"),
]

ALTERNATIVES = [
    Alternative("vision-detach", "vision_features", '''
def vision_features(tower, images_uint8):
    hidden = tower.forward_hidden(images_uint8)
    second_to_last = hidden[len(hidden) - 2]
    return second_to_last[:, 1:, :].detach()
'''),
    Alternative("projector-class", "projector", '''
class TwoLayer(nn.Module):
    # the second layer made first (other initial weights), the GELU as a function, in its tanh form
    def __init__(self, a, b):
        super().__init__()
        self.out = nn.Linear(b, b)
        self.inp = nn.Linear(a, b)

    def forward(self, x):
        return self.out(F.gelu(self.inp(x), approximate="tanh"))


def build_projector(kind, vision_width, lm_width):
    projectors = {"linear": lambda: nn.Linear(vision_width, lm_width),
                  "mlp2x_gelu": lambda: TwoLayer(vision_width, lm_width)}
    if kind not in projectors:
        raise ValueError(kind)
    return projectors[kind]()
'''),
    Alternative("tokens-by-pieces", "conversation_tokens", '''
def conversation_tokens(turns):
    pieces = [(f"{BOS} {SYSTEM}", False)]
    for i, (question, answer) in enumerate(turns):
        image = f"{IMAGE} " if i == 0 else ""
        pieces.append((f"{USER} {image}{question} {ASSISTANT}", False))
        pieces.append((f"{answer} {EOS}", True))
    ids, labels = [], []
    for text, learned in pieces:
        piece = tokenizer.encode(text)
        ids.extend(piece)
        labels.extend(piece if learned else [IGNORE_INDEX] * len(piece))
    return ids, labels
'''),
    Alternative("pad-sequence", "pad_batch", '''
from torch.nn.utils.rnn import pad_sequence


def pad_batch(examples):
    embeds = pad_sequence([e for e, _ in examples], batch_first=True)
    labels = pad_sequence([l for _, l in examples], batch_first=True, padding_value=IGNORE_INDEX)
    lengths = torch.tensor([len(l) for _, l in examples])
    T = labels.shape[1]
    mask = (torch.arange(T)[None, :] < lengths[:, None]).long()
    positions = torch.arange(T)[None, :].repeat(len(examples), 1) * mask
    return {"inputs_embeds": embeds, "attention_mask": mask.to(embeds.device), "labels": labels,
            "position_ids": positions.to(embeds.device)}
'''),
    Alternative("generate-ids", "generate", '''
@torch.no_grad()
def generate(model, image_feats, question, max_new_tokens=24, temperature=0.0, generator=None):
    prompt = conversation_tokens([(question, "")])[0][:-1]
    image_tokens = model.projector(image_feats.to(device))
    new = []
    while len(new) < max_new_tokens:
        ids = torch.tensor(prompt + new, device=device)
        embeds, _ = splice_image(ids, ids.clone(), image_tokens, model.lm.embed)
        logits = model.lm(embeds.unsqueeze(0))[0][0, -1]
        if temperature > 0:
            token = torch.multinomial(torch.softmax(logits / temperature, -1).cpu(), 1, generator=generator).item()
        else:
            token = logits.argmax().item()
        if token == tokenizer.id(EOS):
            break
        new.append(token)
    return tokenizer.decode(new)
'''),
    Alternative("boxes-list-repr", "boxes_text", '''
def boxes_text(objects, image_size=48):
    return "\\n".join(f"{o['colour']} {o['shape']}: {[round(v / image_size, 3) for v in o['box']]}" for o in objects)
'''),
    Alternative("splice-by-list-index", "splice_image", '''
def splice_image(ids, labels, image_tokens, embed):
    at = ids.tolist().index(tokenizer.id(IMAGE))
    inputs = torch.cat([embed(ids[:at]), image_tokens, embed(ids[at + 1:])], dim=0)
    ignored = labels.new_full((image_tokens.shape[0],), IGNORE_INDEX)
    return inputs, torch.cat([labels[:at], ignored, labels[at + 1:]])
'''),
    Alternative("trainable-by-name", "set_trainable", '''
def set_trainable(model, stage):
    for name, p in model.named_parameters():
        part = name.split(".")[0]
        p.requires_grad = part == "projector" or (part == "lm" and stage == 2)
    return [p for _, p in model.named_parameters() if p.requires_grad]
'''),
]

DEMO = ["labels-on-prompt", "vision-last-layer"]
