"""Realistic mistakes and correct alternatives for the CLIP assignment (see grader/samples.py).

Each mutant is a mistake students make; the tests check that it loses the points of the test
cells in `loses`. Each alternative is a correct answer written differently; it must earn full marks.
"""
from grader.samples import Alternative, Mutant

MUTANTS = [
    Mutant("tokenize-cut-drops-eot", "tokenize",
           "ids[-1] = stoi[EOT]                     # a cut caption still ends in EOT", "pass",
           ["test_tokenize"], "a cut caption loses its EOT token"),
    Mutant("tokenize-no-sot", "tokenize",
           "ids = [stoi[SOT]] + [stoi.get(w, stoi[UNK]) for w in words(text)] + [stoi[EOT]]",
           "ids = [stoi.get(w, stoi[UNK]) for w in words(text)] + [stoi[EOT]]",
           ["test_tokenize"], "no start token before the words"),
    Mutant("block-post-ln", "block",
           "h = self.ln_1(x)                                                         # (B, T, W)\n"
           "        x = x + self.attn(h, h, h, attn_mask=attn_mask, need_weights=False)[0]   # (B, T, W)\n"
           "        x = x + self.mlp(self.ln_2(x))",
           "x = self.ln_1(x + self.attn(x, x, x, attn_mask=attn_mask, need_weights=False)[0])\n"
           "        x = self.ln_2(x + self.mlp(x))",
           ["test_block"], "post-LN (the original Transformer) instead of CLIP's pre-LN"),
    Mutant("block-mask-ignored", "block", "attn_mask=attn_mask, need_weights=False",
           "need_weights=False", ["test_block"], "the attention mask is not passed on"),
    Mutant("vit-mean-pool", "vit", "return self.ln_post(x[:, 0]) @ self.proj",
           "return self.ln_post(x.mean(dim=1)) @ self.proj", ["test_vit"],
           "mean over tokens instead of the class token"),
    Mutant("vit-no-positions", "vit", "x = self.ln_pre(x + self.positional_embedding)",
           "x = self.ln_pre(x)", ["test_vit"], "no positional embedding"),
    Mutant("mask-off-by-one", "causal_mask", ".triu(1)", ".triu(0)", ["test_causal_mask"],
           "the diagonal is masked too: a token cannot see itself"),
    Mutant("mask-transposed", "causal_mask", ".triu(1)", ".tril(-1)", ["test_causal_mask"],
           "the mask turned the wrong way: every token sees the later ones instead of the earlier ones"),
    Mutant("text-pool-last", "text_encoder",
           "return x[torch.arange(len(x), device=x.device), eot] @ self.text_projection",
           "return x[:, -1] @ self.text_projection", ["test_text_encoder"],
           "pooling at the last position (padding) instead of EOT"),
    Mutant("text-argmax-ids", "text_encoder", "eot = (tokens == self.eot_id).int().argmax(dim=-1)",
           "eot = tokens.argmax(dim=-1)", ["test_text_encoder"],
           "OpenAI's argmax-of-ids trick, wrong where EOT is not the largest id"),
    Mutant("text-no-causal-mask", "text_encoder", "x = block(x, attn_mask=self.attn_mask)",
           "x = block(x)", ["test_text_encoder"], "no causal mask: padding leaks into EOT"),
    Mutant("model-no-normalise", "clip_model", "return F.normalize(self.visual(images), dim=-1)",
           "return self.visual(images)", ["test_clip_model"], "image embeddings not L2-normalised"),
    Mutant("model-scale-not-log", "clip_model", "torch.tensor(math.log(1 / 0.07))",
           "torch.tensor(1 / 0.07)", ["test_clip_model"], "logit scale initialised to 1/0.07, not its log"),
    Mutant("model-no-exp", "clip_model", "logits_per_image = self.logit_scale.exp() * image_emb",
           "logits_per_image = self.logit_scale * image_emb", ["test_clip_model"],
           "the log scale used as the scale"),
    Mutant("loss-one-direction", "clip_loss",
           "return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2",
           "return F.cross_entropy(logits, labels)", ["test_clip_loss"],
           "only the image->text cross-entropy"),
    Mutant("loss-no-exp", "clip_loss", "logits = logit_scale.exp() * image_emb @ text_emb.T",
           "logits = logit_scale * image_emb @ text_emb.T", ["test_clip_loss"],
           "forgetting the exp of the log scale"),
    Mutant("train-no-clamp", "train_step",
           "    with torch.no_grad():\n        model.logit_scale.clamp_(0, math.log(100))\n", "",
           ["test_train_step"], "logit scale never clamped"),
    Mutant("train-no-zero-grad", "train_step", "    optimizer.zero_grad()\n", "",
           ["test_train_step"], "gradients accumulate across steps"),
    Mutant("zeroshot-no-renormalise", "zero_shot",
           "rows.append(F.normalize(emb.mean(dim=0), dim=-1))", "rows.append(emb.mean(dim=0))",
           ["test_zero_shot"], "the mean of the templates is not renormalised"),
    Mutant("zeroshot-mean-unnormalised", "zero_shot",
           "emb = F.normalize(encode_text([t.format(name) for t in templates]), dim=-1)",
           "emb = encode_text([t.format(name) for t in templates])", ["test_zero_shot"],
           "templates averaged before normalising"),
    Mutant("recall-optimistic-ties", "recall", "((k - higher) / (ties + 1)).clamp(0, 1)",
           "(higher < k).float()", ["test_recall"], "a tie counted as a win"),
    Mutant("recall-off-by-one", "recall", "((k - higher) / (ties + 1))",
           "((k + 1 - higher) / (ties + 1))", ["test_recall"], "top K+1 counted as top K"),
    Mutant("scores-scaled", "pair_scores", "scores.append((img * txt).sum(dim=-1).cpu())",
           "scores.append((model.logit_scale.exp() * (img * txt).sum(dim=-1)).cpu())",
           ["test_pair_scores"], "logits instead of cosine similarities"),
    Mutant("pr-swapped", "precision_recall", "return float(precision), float(recall)",
           "return float(recall), float(precision)", ["test_precision_recall"],
           "precision and recall swapped"),
    Mutant("train-ignores-loss-fn", "train_step", "loss = loss_fn(model.encode_image(images)",
           "loss = clip_loss(model.encode_image(images)", ["test_train_step"],
           "the loss_fn argument ignored: every experiment then trains with clip_loss"),
]

ALTERNATIVES = [
    Alternative("tokenize-lists", "tokenize", '''
def tokenize(texts, context_length=32):
    rows = []
    for text in texts:
        ids = [stoi[SOT]] + [stoi[w] if w in stoi else stoi[UNK] for w in words(text)]
        ids = ids[: context_length - 1] + [stoi[EOT]]
        rows.append(ids + [stoi[PAD]] * (context_length - len(ids)))
    return torch.tensor(rows)
'''),
    Alternative("block-named-steps", "block", '''
class ResidualAttentionBlock(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), QuickGELU(), nn.Linear(4 * width, width))

    def attention(self, x, attn_mask):
        return self.attn(x, x, x, need_weights=False, attn_mask=attn_mask)[0]

    def forward(self, x, attn_mask=None):
        x = x + self.attention(self.ln_1(x), attn_mask)
        return x + self.mlp(self.ln_2(x))
'''),
    Alternative("vit-reshape", "vit", '''
class VisionTransformer(nn.Module):
    def __init__(self, cfg: CLIPConfig):
        super().__init__()
        width, grid = cfg.vision_width, cfg.image_size // cfg.patch_size
        scale = width ** -0.5
        self.conv1 = nn.Conv2d(3, width, kernel_size=cfg.patch_size, stride=cfg.patch_size, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(grid * grid + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.blocks = nn.ModuleList(ResidualAttentionBlock(width, cfg.vision_heads) for _ in range(cfg.vision_layers))
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, cfg.embed_dim))

    def forward(self, images):
        B = images.shape[0]
        x = self.conv1(images)
        x = x.reshape(B, x.shape[1], -1).permute(0, 2, 1)
        cls = self.class_embedding.reshape(1, 1, -1).repeat(B, 1, 1)
        x = torch.cat((cls, x), dim=1) + self.positional_embedding.unsqueeze(0)
        x = self.ln_pre(x)
        for block in self.blocks:
            x = block(x, None)
        cls_out = self.ln_post(x[:, 0, :])
        return torch.matmul(cls_out, self.proj)
'''),
    Alternative("mask-masked-fill", "causal_mask", '''
def causal_mask(T):
    future = torch.ones(T, T, dtype=torch.bool).triu(diagonal=1)
    return torch.zeros(T, T).masked_fill(future, float("-inf"))
'''),
    Alternative("text-gather", "text_encoder", '''
class TextTransformer(nn.Module):
    def __init__(self, cfg: CLIPConfig, eot_id=stoi[EOT]):
        super().__init__()
        width = cfg.text_width
        self.eot_id = eot_id
        self.token_embedding = nn.Embedding(cfg.vocab_size, width)
        self.positional_embedding = nn.Parameter(0.01 * torch.randn(cfg.context_length, width))
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        self.blocks = nn.ModuleList(ResidualAttentionBlock(width, cfg.text_heads) for _ in range(cfg.text_layers))
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(width ** -0.5 * torch.randn(width, cfg.embed_dim))
        self.register_buffer("attn_mask", causal_mask(cfg.context_length), persistent=False)

    def forward(self, tokens):
        L = tokens.shape[1]
        x = self.token_embedding(tokens) + self.positional_embedding[:L]
        for block in self.blocks:
            x = block(x, self.attn_mask[:L, :L])
        x = self.ln_final(x)
        positions = torch.tensor([row.tolist().index(self.eot_id) for row in tokens], device=tokens.device)
        index = positions.view(-1, 1, 1).expand(-1, 1, x.shape[-1])
        return x.gather(1, index).squeeze(1) @ self.text_projection
'''),
    Alternative("loss-log-softmax", "clip_loss", '''
def clip_loss(image_emb, text_emb, logit_scale):
    logits = torch.exp(logit_scale) * torch.einsum("ie,te->it", image_emb, text_emb)
    loss_images = -torch.log_softmax(logits, dim=1).diagonal().mean()
    loss_texts = -torch.log_softmax(logits, dim=0).diagonal().mean()
    return 0.5 * (loss_images + loss_texts)
'''),
    Alternative("zeroshot-batched", "zero_shot", '''
def zero_shot_classifier(encode_text, classnames, templates):
    texts = [t.format(c) for c in classnames for t in templates]
    emb = encode_text(texts)
    emb = emb / emb.norm(dim=-1, keepdim=True)
    emb = emb.reshape(len(classnames), len(templates), -1).mean(dim=1)
    return emb / emb.norm(dim=-1, keepdim=True)
'''),
    Alternative("recall-loop", "recall", '''
def recall_at_k(similarity, ks=(1, 5, 10)):
    n = similarity.shape[0]
    result = {}
    for k in ks:
        total = 0.0
        for i in range(n):
            row = similarity[i]
            g = int((row > row[i]).sum())
            t = int((row == row[i]).sum()) - 1
            total += min(1.0, max(0.0, (k - g) / (t + 1)))
        result[k] = total / n
    return result
'''),
    Alternative("model-open-clip-style", "clip_model", '''
class CLIP(nn.Module):
    def __init__(self, cfg: CLIPConfig):
        super().__init__()
        self.cfg = cfg
        self.visual = VisionTransformer(cfg)
        self.text = TextTransformer(cfg)
        self.logit_scale = nn.Parameter(torch.ones([]) * math.log(1 / 0.07))

    def encode_image(self, images):
        if images.dtype == torch.uint8:
            images = preprocess(images)
        features = self.visual(images)
        return features / features.norm(dim=1, keepdim=True)

    def encode_text(self, tokens):
        features = self.text(tokens)
        return features / features.norm(dim=1, keepdim=True)

    def forward(self, images, tokens):
        image_features, text_features = self.encode_image(images), self.encode_text(tokens)
        scale = self.logit_scale.exp()
        return scale * image_features @ text_features.t(), scale * text_features @ image_features.t()
'''),
    Alternative("train-zero-grad-after-forward", "train_step", '''
def train_step(model, optimizer, images, tokens, loss_fn=clip_loss):
    image_emb = model.encode_image(images)
    text_emb = model.encode_text(tokens)
    loss = loss_fn(image_emb, text_emb, model.logit_scale)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    model.logit_scale.data.clamp_(min=0, max=math.log(100))
    return float(loss)
'''),
    Alternative("scores-cosine-similarity", "pair_scores", '''
@torch.no_grad()
def pair_scores(model, images, tokens, batch_size=500):
    out = []
    for image_batch, token_batch in zip(images.split(batch_size), tokens.split(batch_size)):
        a = model.encode_image(image_batch.to(device))
        b = model.encode_text(token_batch.to(device))
        out.append(F.cosine_similarity(a, b, dim=1).cpu())
    return torch.cat(out)
'''),
    Alternative("pr-confusion-counts", "precision_recall", '''
def precision_recall(flagged, corrupted):
    flagged, corrupted = flagged.bool(), corrupted.bool()
    true_pos = int(torch.logical_and(flagged, corrupted).sum())
    false_pos = int(torch.logical_and(flagged, ~corrupted).sum())
    false_neg = int(torch.logical_and(~flagged, corrupted).sum())
    precision = true_pos / (true_pos + false_pos) if true_pos + false_pos else 0.0
    recall = true_pos / (true_pos + false_neg) if true_pos + false_neg else 0.0
    return precision, recall
'''),
]

DEMO = ["loss-one-direction", "text-pool-last"]
