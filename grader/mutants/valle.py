"""Realistic mistakes and correct alternatives for the VALL-E assignment (see grader/samples.py)."""
from grader.samples import Alternative, Mutant

MUTANTS = [
    Mutant("bitrate-codebook-size", "bitrate", "n_codebooks * math.log2(codebook_size) * frame_rate",
           "n_codebooks * codebook_size * frame_rate", ["test_bitrate"], "counts codes, not bits: K instead of log2 K"),
    Mutant("residual-not-subtracted", "rvq", "residual = residual - q\n", "residual = residual\n",
           ["test_rvq"], "every codebook quantises the input again, not what the others missed"),
    Mutant("residual-detached", "rvq", "residual = residual - q\n", "residual = residual - q.detach()\n",
           ["test_rvq"], "the encoder's gradient is multiplied by the number of codebooks"),
    Mutant("ema-in-eval", "vq", "        if self.training:\n            self.ema_update",
           "        if True:\n            self.ema_update", ["test_vq_straight_through"],
           "the codebook keeps moving while the codec is evaluated"),
    Mutant("dropout-never-last", "rvq", "torch.randint(1, len(self.layers) + 1, ())", "torch.randint(1, len(self.layers), ())",
           ["test_rvq_dropout"], "quantizer dropout never trains the last codebook (randint excludes its upper bound)"),
    Mutant("no-laplace", "vq", "self.codebook.copy_(self.code_sum / smoothed[:, None])",
           "self.codebook.copy_(self.code_sum / self.cluster_size[:, None])", ["test_vq_ema"],
           "no Laplace smoothing: an unused code divides by zero"),
    Mutant("no-straight-through", "vq", "return x + (quantised - x).detach(), codes, commitment",
           "return quantised, codes, commitment", ["test_vq_straight_through"],
           "no straight-through estimator: the encoder gets no gradient"),
    Mutant("dead-codes-forgotten", "vq", "            self.cluster_size[dead] = self.dead_threshold\n", "",
           ["test_vq_init_dead"], "a replaced code keeps its dead count: replaced again at every step"),
    Mutant("dead-codes-no-warm-up", "vq", "            if self.updates > self.warmup:\n", "            if True:\n",
           ["test_vq_init_dead"], "dead codes replaced from the first step, while the counts still remember k-means"),
    Mutant("phoneme-ids-no-separator", "phoneme_ids", 'prompt_phonemes + ["|"] + target_phonemes',
           "prompt_phonemes + target_phonemes", ["test_phoneme_ids"], "prompt and target phonemes run together"),
    Mutant("audio-sees-future", "attention_mask", "allowed[Tx:, Tx:] = torch.tril(allowed[Tx:, Tx:])",
           "allowed[Tx:, Tx:] = allowed[Tx:, Tx:]",
           ["test_attention_mask"], "the AR model's audio attends to the future"),
    Mutant("text-sees-audio", "attention_mask", "        allowed[:Tx, Tx:] = False                      # text never sees audio\n",
           "", ["test_attention_mask"], "the AR model's phonemes attend to the audio"),
    Mutant("nar-text-blind", "attention_mask", "    if causal:                                         # the AR model\n"
           "        allowed[:Tx, Tx:] = False                      # text never sees audio\n",
           "    allowed[:Tx, Tx:] = False\n    if causal:\n", ["test_attention_mask", "test_pretrained"],
           "the NAR model's phonemes never see the audio: a causal-model mask where the NAR attends both ways "
           "(the pretrained NAR's loss moves by 0.0006 nats only)"),
    Mutant("end-token-missing", "ar_targets", "    targets[torch.arange(B), lengths] = eos\n", "",
           ["test_ar_targets"], "no EOS target: the model never learns to stop"),
    Mutant("shared-positions", "ar_model",
           "y = self.audio_embedding(audio) + sinusoids(Ty, self.cfg.dim, text.device)",
           "y = self.audio_embedding(audio) + sinusoids(Tx + Ty, self.cfg.dim, text.device)[Tx:]",
           ["test_ar_model", "test_pretrained"],
           "audio positions continue from the text's: the same frame moves with the text length"),
    Mutant("nar-sees-target", "nar_model", "known = is_prompt | (k < stage)", "known = is_prompt | (k <= stage)",
           ["test_nar_model"], "the NAR model sees the codebook it must predict"),
    Mutant("nar-prompt-partial", "nar_model", "known = is_prompt | (k < stage)",
           "known = (is_prompt & (k <= stage)) | (k < stage)", ["test_nar_model"],
           "prompt frames embed only the lower codebooks: the voice's detail is lost"),
    Mutant("adaln-without-one", "adaln", "return (1 + scale) * self.norm(x) + shift", "return scale * self.norm(x) + shift",
           ["test_adaln"], "AdaLN scale without 1 +: zero-initialised, it zeroes every layer"),
    Mutant("nar-head-previous-codebook", "nar_model", "return h @ self.audio_embeddings[stage].weight.T",
           "return h @ self.audio_embeddings[stage - 1].weight.T", ["test_nar_model", "test_pretrained"],
           "the output layer tied to the wrong codebook's embedding"),
    Mutant("kmeans-without-code-sum", "vq", "        self.code_sum.copy_(centres * counts[:, None])\n", "",
           ["test_vq_init_dead"], "k-means leaves the EMA sums at zero: the first update drags every code to zero"),
    Mutant("generate-without-top-k", "generate", "        if top_k:\n", "        if False:\n",
           ["test_generate"], "top-k ignored: any code may be sampled"),
    Mutant("generate-ignores-eos", "generate", "        if token == ar.EOS:\n            break\n", "",
           ["test_generate"], "generation never stops at the end token"),
    Mutant("commitment-without-gradient", "vq", "commitment = F.mse_loss(x, quantised.detach())",
           "commitment = F.mse_loss(x.detach(), quantised.detach())", ["test_vq_straight_through"],
           "the commitment loss detached from the encoder: it pulls nothing towards the codebook"),
    Mutant("nearest-without-code-norms", "vq", " + self.codebook.pow(2).sum(1)", "", ["test_vq_nearest"],
           "the |e_k|^2 term dropped: the largest dot product, not the nearest code"),
    Mutant("adaln-halves-swapped", "adaln", "scale, shift = self.to_scale_shift", "shift, scale = self.to_scale_shift",
           ["test_adaln"], "scale and shift read from the wrong halves of to_scale_shift's output"),
    Mutant("nar-stage-off-by-one", "nar_model", "torch.full((B,), stage, device=codes.device)",
           "torch.full((B,), stage - 1, device=codes.device)", ["test_nar_model"],
           "the stage embedding of the previous codebook"),
    Mutant("vq-output-after-update", "vq",
           "                self.replace_dead_codes(x.detach())\n        commitment",
           "                self.replace_dead_codes(x.detach())\n            quantised = self.codebook[codes]\n        commitment",
           ["test_vq_straight_through"],
           "the output read from the codebook after this step's EMA update (EnCodec quantises, then updates)"),
]

ALTERNATIVES = [
    Alternative("bitrate-bits-loop", "bitrate", '''
def bitrate(n_codebooks, codebook_size, frame_rate):
    bits_per_code = np.log2(codebook_size)
    return float(frame_rate) * n_codebooks * float(bits_per_code)


def raw_bitrate(sample_rate, bits_per_sample=16):
    return sample_rate * bits_per_sample * 1.0
'''),
    Alternative("vq-cdist", "vq", '''
class VectorQuantizer(nn.Module):
    def __init__(self, dim, codebook_size, decay=0.99, eps=1e-5, dead_threshold=0.1, warmup=100):
        super().__init__()
        self.codebook_size, self.decay, self.eps, self.dead_threshold = codebook_size, decay, eps, dead_threshold
        self.warmup = warmup
        self.register_buffer("codebook", torch.zeros(codebook_size, dim))
        self.register_buffer("cluster_size", torch.zeros(codebook_size))
        self.register_buffer("code_sum", torch.zeros(codebook_size, dim))
        self.register_buffer("initialised", torch.tensor(False))
        self.register_buffer("updates", torch.tensor(0), persistent=False)

    def nearest(self, x):
        return torch.cdist(x, self.codebook).argmin(dim=1)

    @torch.no_grad()
    def kmeans_init(self, x, iters=10):
        K = self.codebook_size
        centres = x[torch.randint(len(x), (K,))].clone()
        for _ in range(iters):
            assign = self.nearest_to(x, centres)
            for k in range(K):
                members = x[assign == k]
                if len(members):
                    centres[k] = members.mean(0)
        assign = self.nearest_to(x, centres)
        counts = torch.bincount(assign, minlength=K).float()
        self.codebook[:] = centres
        self.cluster_size[:] = counts
        self.code_sum[:] = centres * counts[:, None]
        self.initialised.fill_(True)

    @staticmethod
    def nearest_to(x, centres):
        return torch.cdist(x, centres).argmin(dim=1)

    @torch.no_grad()
    def ema_update(self, x, codes):
        counts = torch.bincount(codes, minlength=self.codebook_size).float()
        sums = torch.zeros_like(self.code_sum).index_add_(0, codes, x)
        self.cluster_size[:] = self.decay * self.cluster_size + (1 - self.decay) * counts
        self.code_sum[:] = self.decay * self.code_sum + (1 - self.decay) * sums
        n = self.cluster_size.sum()
        laplace = n * (self.cluster_size + self.eps) / (n + self.codebook_size * self.eps)
        self.codebook[:] = self.code_sum / laplace.unsqueeze(1)

    @torch.no_grad()
    def replace_dead_codes(self, x):
        dead = torch.nonzero(self.cluster_size < self.dead_threshold).flatten().tolist()
        draws = torch.randperm(len(x))[:len(dead)] if len(dead) <= len(x) else torch.randint(len(x), (len(dead),))
        for k, i in zip(dead, draws.tolist()):      # distinct rows while the batch has enough of them
            row = x[i]
            self.codebook[k] = row
            self.cluster_size[k] = self.dead_threshold
            self.code_sum[k] = row * self.dead_threshold

    def forward(self, x):
        if self.training:
            if not bool(self.initialised):
                self.kmeans_init(x.detach())
        codes = self.nearest(x.detach())
        q = self.codebook[codes].clone()
        if self.training:
            self.ema_update(x.detach(), codes)
            if int(self.updates) >= self.warmup:        # warmup updates already made before this one
                self.replace_dead_codes(x.detach())
            self.updates += 1
        out = q + x - x.detach()
        return out, codes, ((x - q.detach()) ** 2).mean()
'''),
    Alternative("rvq-lists", "rvq", '''
class ResidualVQ(nn.Module):
    def __init__(self, dim, n_codebooks, codebook_size, **vq_options):
        super().__init__()
        self.layers = nn.ModuleList(VectorQuantizer(dim, codebook_size, **vq_options) for _ in range(n_codebooks))

    def forward(self, x, n_codebooks=None):
        if n_codebooks is None:
            n_codebooks = len(self.layers)
            if self.training:
                n_codebooks = int(np.random.randint(1, len(self.layers) + 1))
        outputs, codes, losses = [], [], []
        residual = x
        for i in range(n_codebooks):
            q, c, loss = self.layers[i](residual)
            outputs.append(q)
            codes.append(c)
            losses.append(loss)
            residual = residual - q
        return torch.stack(outputs).sum(0), torch.stack(codes), torch.stack(losses).sum(), residual

    def decode(self, codes):
        out = torch.zeros(codes.shape[1], self.layers[0].codebook.shape[1])
        for i in range(codes.shape[0]):
            out = out + self.layers[i].codebook[codes[i]]
        return out
'''),
    Alternative("mask-by-blocks", "attention_mask", '''
def attention_mask(text_len, Tx, audio_len, Ty, causal):
    B = len(text_len)
    text_keys = torch.arange(Tx)[None, :] < text_len[:, None]             # (B, Tx)
    audio_keys = torch.arange(Ty)[None, :] < audio_len[:, None]           # (B, Ty)
    text_sees = torch.zeros(B, Tx, Ty, dtype=torch.bool) if causal else audio_keys[:, None, :].expand(B, Tx, Ty)
    top = torch.cat([text_keys[:, None, :].expand(B, Tx, Tx), text_sees], 2)
    if causal:
        audio_block = torch.ones(Ty, Ty).tril().bool()[None] & audio_keys[:, None, :]
    else:
        audio_block = audio_keys[:, None, :].expand(B, Ty, Ty)
    bottom = torch.cat([text_keys[:, None, :].expand(B, Ty, Tx), audio_block], 2)
    return torch.cat([top, bottom], 1)
'''),
    Alternative("targets-by-loop", "ar_targets", '''
def ar_inputs_targets(codes, lengths, bos, eos):
    B, T = codes.shape
    inputs = torch.full((B, T + 1), bos)
    targets = torch.full((B, T + 1), -100)
    for b in range(B):
        n = int(lengths[b])
        inputs[b, 1:n + 1] = codes[b, :n]
        targets[b, :n] = codes[b, :n]
        targets[b, n] = eos
    return inputs, targets
'''),
    Alternative("ar-layers-made-in-another-order", "ar_model", '''
class ARModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.head = nn.Linear(cfg.dim, cfg.codebook_size + 1)
        self.norm = nn.LayerNorm(cfg.dim)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.audio_embedding = nn.Embedding(cfg.codebook_size + 2, cfg.dim)
        self.text_embedding = nn.Embedding(cfg.n_phonemes, cfg.dim)
        self.EOS, self.BOS = cfg.codebook_size, cfg.codebook_size + 1

    def hidden(self, text, text_len, audio, audio_len):
        Tx, Ty = text.shape[1], audio.shape[1]
        h = torch.cat([self.text_embedding(text) + sinusoids(Tx, self.cfg.dim, text.device),
                       self.audio_embedding(audio) + sinusoids(Ty, self.cfg.dim, audio.device)], dim=1)
        h = F.dropout(h, self.cfg.dropout, self.training)
        allowed = attention_mask(text_len, Tx, audio_len, Ty, causal=True)
        for block in self.blocks:
            h = block(h, allowed)
        return h

    def forward(self, text, text_len, audio, audio_len):
        return self.head(self.norm(self.hidden(text, text_len, audio, audio_len)[:, text.shape[1]:]))
'''),
    Alternative("adaln-manual", "adaln", '''
class AdaptiveLayerNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(dim, elementwise_affine=False)
        self.to_scale_shift = nn.Linear(dim, 2 * dim)
        nn.init.zeros_(self.to_scale_shift.weight)
        nn.init.zeros_(self.to_scale_shift.bias)

    def forward(self, x, stage_embedding):
        D = x.shape[-1]
        params = self.to_scale_shift(stage_embedding)
        gamma, beta = params[:, :D].unsqueeze(1), params[:, D:].unsqueeze(1)
        mean = x.mean(-1, keepdim=True)
        var = x.var(-1, keepdim=True, unbiased=False)
        return (x - mean) / torch.sqrt(var + 1e-5) * (1 + gamma) + beta
'''),
    Alternative("generate-kv-free-loop", "generate", '''
@torch.no_grad()
def generate(ar, nar, text, prompt_codes, max_frames, top_k=10, temperature=1.0, generator=None):
    n, Tp = prompt_codes.shape
    text_len = torch.tensor([text.shape[0]])
    tokens = [ar.BOS] + prompt_codes[0].tolist()
    for _ in range(max_frames):
        audio = torch.tensor(tokens)
        logits = ar(text[None], text_len, audio[None], torch.tensor([len(tokens)]))[0, -1] / temperature
        values, indices = logits.topk(top_k)
        choice = torch.multinomial(F.softmax(values, -1), 1, generator=generator)
        token = int(indices[choice])
        if token == ar.EOS:
            break
        tokens.append(token)
    new = torch.tensor(tokens[1 + Tp:], dtype=torch.long)
    T = len(new)
    codes = torch.cat([prompt_codes, torch.zeros(n, T, dtype=torch.long)], 1)
    codes[0, Tp:] = new
    for j in range(1, n):
        logits = nar(text[None], text_len, codes[None], torch.tensor([Tp]), torch.tensor([Tp + T]), j)
        codes[j, Tp:] = logits[0, Tp:].argmax(-1)
    return codes[:, Tp:]
'''),
    Alternative("phoneme-ids-append", "phoneme_ids", '''
def phoneme_ids(prompt_phonemes, target_phonemes):
    ids = [PHONEME_ID[p] for p in prompt_phonemes]
    ids.append(PHONEME_ID["|"])
    ids.extend(PHONEME_ID[p] for p in target_phonemes)
    return torch.LongTensor(ids)
'''),
    Alternative("ar-mask-by-hand", "ar_model", '''
class ARModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.EOS, self.BOS = cfg.codebook_size, cfg.codebook_size + 1
        self.text_embedding = nn.Embedding(cfg.n_phonemes, cfg.dim)
        self.audio_embedding = nn.Embedding(cfg.codebook_size + 2, cfg.dim)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(cfg.dim)
        self.head = nn.Linear(cfg.dim, cfg.codebook_size + 1)

    def hidden(self, text, text_len, audio, audio_len):
        Tx, Ty, dev = text.shape[1], audio.shape[1], text.device
        x = self.text_embedding(text) + sinusoids(Tx, self.cfg.dim, dev)
        y = self.audio_embedding(audio) + sinusoids(Ty, self.cfg.dim, dev)
        is_text = torch.arange(Tx + Ty, device=dev) < Tx                          # (T,)
        step = torch.cat([torch.arange(Tx, device=dev), torch.arange(Ty, device=dev)])
        earlier = step[None, :] <= step[:, None]                                  # (T, T) key no later than query
        # text queries see text keys; audio queries see every text key and the audio keys up to their own
        pairs = torch.where(is_text[:, None], is_text[None, :], is_text[None, :] | earlier)
        real = torch.cat([torch.arange(Tx, device=dev)[None] < text_len[:, None],
                          torch.arange(Ty, device=dev)[None] < audio_len[:, None]], dim=1)   # (B, T)
        allowed = pairs[None] & real[:, None, :]
        h = F.dropout(torch.cat([x, y], dim=1), self.cfg.dropout, self.training)
        for block in self.blocks:
            h = block(h, allowed)
        return h

    def forward(self, text, text_len, audio, audio_len):
        return self.head(self.norm(self.hidden(text, text_len, audio, audio_len)[:, text.shape[1]:]))
'''),
    Alternative("nar-stacked-embeddings", "nar_model", '''
class NARModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.text_embedding = nn.Embedding(cfg.n_phonemes, cfg.dim)
        self.audio_embeddings = nn.ModuleList(nn.Embedding(cfg.codebook_size, cfg.dim) for _ in range(cfg.n_codebooks))
        for embedding in self.audio_embeddings:
            nn.init.normal_(embedding.weight, std=cfg.dim ** -0.5)
        self.stage_embedding = nn.Embedding(cfg.n_codebooks, cfg.dim)
        self.blocks = nn.ModuleList(Block(cfg, adaptive=True) for _ in range(cfg.layers))
        self.norm = AdaptiveLayerNorm(cfg.dim)

    def forward(self, text, text_len, codes, prompt_len, audio_len, stage):
        B, n, Ty = codes.shape
        Tx = text.shape[1]
        in_prompt = torch.arange(Ty, device=codes.device)[None, :] < prompt_len[:, None]          # (B, Ty)
        embedded = torch.stack([self.audio_embeddings[k](codes[:, k]) for k in range(n)], dim=1)  # (B, n, Ty, D)
        used = torch.stack([in_prompt | (k < stage) for k in range(n)], dim=1)                    # (B, n, Ty)
        y = (embedded * used[..., None]).sum(dim=1) * self.cfg.dim ** 0.5
        y = y + sinusoids(Ty, self.cfg.dim, codes.device)
        x = self.text_embedding(text) + sinusoids(Tx, self.cfg.dim, codes.device)
        h = F.dropout(torch.cat([x, y], dim=1), self.cfg.dropout, self.training)
        s = self.stage_embedding.weight[stage].expand(B, -1)                                      # (B, D)
        allowed = attention_mask(text_len, Tx, audio_len, Ty, causal=False)
        for block in self.blocks:
            h = block(h, allowed, s)
        return F.linear(self.norm(h, s)[:, Tx:], self.audio_embeddings[stage].weight)
'''),
]

# the two mutants that the demo grades beside the reference, the blank and a damaged file
DEMO = ["residual-not-subtracted", "nar-sees-target"]
