"""Realistic mistakes and correct alternatives for the WaveNet assignment (see grader/samples.py)."""
from grader.samples import Alternative, Mutant

MUTANTS = [
    Mutant("mu-law-truncates", "mu_law", "np.floor((companded + 1) / 2 * mu + 0.5)", "np.floor((companded + 1) / 2 * mu)",
           ["test_mu_law"], "levels truncated instead of rounded"),
    Mutant("symmetric-padding", "causal_conv", "F.pad(x, (left, 0))", "F.pad(x, (left // 2, left - left // 2))",
           ["test_causal_conv"], "symmetric padding: the output sees the future (it learns the chord all the same)"),
    Mutant("receptive-field-off-by-one", "receptive_field", "return (kernel_size - 1) * sum(dilations) + 1",
           "return (kernel_size - 1) * sum(dilations)", ["test_receptive_field"], "the present sample not counted"),
    Mutant("measured-from-the-middle", "receptive_field", "net(x)[:, :, -1].sum().backward()",
           "net(x)[:, :, length // 2].sum().backward()", ["test_receptive_field"],
           "gradient from the middle output: the field is cut by the start of the input"),
    Mutant("tanh-without-gate", "residual_block", "z = torch.tanh(filter_) * torch.sigmoid(gate)",
           "z = torch.tanh(filter_)", ["test_residual_block"], "tanh without the sigmoid gate"),
    Mutant("missing-residual", "residual_block", "return x + self.res(z), self.skip(z)",
           "return self.res(z), self.skip(z)", ["test_residual_block"], "the residual connection left out"),
    Mutant("only-last-skip", "wavenet", "skips = skips + skip", "skips = skip", ["test_wavenet"],
           "only the last block's skip output reaches the head"),
    Mutant("target-not-shifted", "wavenet_loss", "F.cross_entropy(logits[:, :, :-1], q[:, 1:])",
           "F.cross_entropy(logits, q)", ["test_wavenet_loss"], "the target is the current sample, not the next"),
    Mutant("naive-whole-history", "generate_naive", "context = torch.tensor([levels[-window:]])",
           "context = torch.tensor([levels])", ["test_generate_naive"],
           "the whole history every step: correct samples, but ever slower"),
    Mutant("queue-too-long", "fast_generator", "deque([zeros] * block.dilation)", "deque([zeros] * (block.dilation + 1))",
           ["test_fast_generator"], "queues one longer than the dilation"),
    Mutant("queue-updated-late", "fast_generator", "past = queue.popleft()                                     # x(t - d)\n            queue.append(x)",
           "past = queue.popleft()                                     # x(t - d)",
           ["test_fast_generator"], "the queue never receives the new input"),
    Mutant("gate-halves-swapped", "residual_block", "filter_, gate = h.chunk(2, dim=1)", "gate, filter_ = h.chunk(2, dim=1)",
           ["test_residual_block", "test_pretrained"], "tanh on the gate half, sigmoid on the filter half"),
    Mutant("block-without-speaker", "residual_block", "h = self.conv(x) + self.cond(g).unsqueeze(-1)", "h = self.conv(x)",
           ["test_residual_block"], "the speaker's conditioning left out of the gated activation"),
    Mutant("input-conv-skipped", "wavenet", "x = self.input(self.embed(q).transpose(1, 2))",
           "x = self.embed(q).transpose(1, 2)", ["test_wavenet"], "the embedding goes to the blocks without the input convolution"),
    Mutant("target-shifted-backwards", "wavenet_loss", "F.cross_entropy(logits[:, :, :-1], q[:, 1:])",
           "F.cross_entropy(logits[:, :, 1:], q[:, :-1])", ["test_wavenet_loss"],
           "the logits at t scored against the level at t - 1: the model learns to copy the past"),
    Mutant("naive-returns-seed", "generate_naive", "return torch.tensor(levels[1:])",
           "return torch.tensor(levels[:-1])", ["test_generate_naive"],
           "off by one: the silent start level returned, the last new level dropped"),
]

ALTERNATIVES = [
    Alternative("mu-law-librosa", "mu_law", '''
def mu_law_encode(x, mu=255):
    companded = librosa.mu_compress(np.clip(x, -1, 1), mu=mu, quantize=False)
    return np.round((companded + 1) / 2 * mu).astype(np.int64)


def mu_law_decode(q, mu=255):
    return librosa.mu_expand(2 * np.asarray(q) / mu - 1, mu=mu, quantize=False)
'''),
    Alternative("conv-pad-then-crop", "causal_conv", '''
class CausalConv1d(nn.Conv1d):
    def __init__(self, in_channels, out_channels, kernel_size, dilation=1):
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation)

    def forward(self, x):
        pad = (self.kernel_size[0] - 1) * self.dilation[0]
        y = F.conv1d(x, self.weight, self.bias, padding=pad, dilation=self.dilation[0])
        return y[:, :, : x.shape[-1]]
'''),
    Alternative("receptive-field-autograd", "receptive_field", '''
def receptive_field(kernel_size, dilations):
    field = 1
    for d in dilations:
        field += (kernel_size - 1) * d
    return field


def measured_receptive_field(net, in_channels, length=4096):
    x = torch.randn(1, in_channels, length, requires_grad=True)
    (grad,) = torch.autograd.grad(net(x)[0, :, length - 1].sum(), x)
    return int(torch.count_nonzero(grad.abs().amax(dim=1)))
'''),
    Alternative("block-by-slicing", "residual_block", '''
class ResidualBlock(nn.Module):
    def __init__(self, cfg: WaveNetConfig, dilation: int):
        super().__init__()
        self.dilation = dilation
        self.conv = CausalConv1d(cfg.residual_channels, 2 * cfg.gate_channels, cfg.kernel_size, dilation)
        self.cond = nn.Linear(cfg.speaker_dim, 2 * cfg.gate_channels)
        self.res = nn.Conv1d(cfg.gate_channels, cfg.residual_channels, 1)
        self.skip = nn.Conv1d(cfg.gate_channels, cfg.skip_channels, 1)

    def forward(self, x, g):
        half = self.conv.out_channels // 2
        h = self.conv(x) + self.cond(g)[:, :, None]
        z = torch.tanh(h[:, :half]) * torch.sigmoid(h[:, half:])
        skip = self.skip(z)
        return self.res(z) + x, skip
'''),
    Alternative("block-layers-made-in-another-order", "residual_block", '''
class ResidualBlock(nn.Module):
    def __init__(self, cfg: WaveNetConfig, dilation: int):
        super().__init__()
        self.skip = nn.Conv1d(cfg.gate_channels, cfg.skip_channels, 1)
        self.res = nn.Conv1d(cfg.gate_channels, cfg.residual_channels, 1)
        self.cond = nn.Linear(cfg.speaker_dim, 2 * cfg.gate_channels)
        self.conv = CausalConv1d(cfg.residual_channels, 2 * cfg.gate_channels, cfg.kernel_size, dilation)
        self.dilation = dilation

    def forward(self, x, g):
        filter_, gate = torch.split(self.conv(x) + self.cond(g)[..., None], self.conv.out_channels // 2, dim=1)
        z = torch.sigmoid(gate) * torch.tanh(filter_)
        return x + self.res(z), self.skip(z)
'''),
    Alternative("wavenet-stacked-skips", "wavenet", '''
class WaveNet(nn.Module):
    def __init__(self, cfg: WaveNetConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.levels, cfg.residual_channels)
        self.input = CausalConv1d(cfg.residual_channels, cfg.residual_channels, cfg.kernel_size)
        self.speaker = nn.Embedding(cfg.speakers, cfg.speaker_dim)
        self.blocks = nn.ModuleList(ResidualBlock(cfg, d) for d in cfg.dilations)
        self.head = nn.Sequential(nn.ReLU(), nn.Conv1d(cfg.skip_channels, cfg.skip_channels, 1),
                                  nn.ReLU(), nn.Conv1d(cfg.skip_channels, cfg.levels, 1))

    def forward(self, q, speaker):
        one_hot = F.one_hot(q, self.cfg.levels).float()
        x = self.input((one_hot @ self.embed.weight).permute(0, 2, 1))
        g = self.speaker(speaker)
        skips = []
        for block in self.blocks:
            x, s = block(x, g)
            skips.append(s)
        return self.head(torch.stack(skips).sum(dim=0))
'''),
    Alternative("loss-gather-float64", "wavenet_loss", '''
def wavenet_loss(logits, q):
    log_probs = F.log_softmax(logits[..., :-1].double(), dim=1)        # a float64 loss
    return -log_probs.gather(1, q[:, None, 1:]).mean()
'''),
    Alternative("naive-tensor-window", "generate_naive", '''
@torch.no_grad()
def generate_naive(model, speaker, n, temperature=1.0, seed=0):
    generator = torch.Generator().manual_seed(seed)
    history = torch.full((1, 1), 128, dtype=torch.long)
    speaker = torch.tensor([speaker])
    for _ in range(n):
        logits = model(history[:, -model.cfg.receptive_field:], speaker)
        nxt = sample_level(logits[:, :, -1], temperature, generator)
        history = torch.cat([history, nxt.view(1, 1)], dim=1)
    return history[0, 1:]
'''),
    Alternative("fast-ring-buffers", "fast_generator", '''
class FastGenerator:
    def __init__(self, model, speakers):
        self.model = model
        g = model.speaker(speakers)
        self.cond = [block.cond(g) for block in model.blocks]
        B, R = len(speakers), model.cfg.residual_channels
        self.buffers = [torch.zeros(d, B, R) for d in [1] + [b.dilation for b in model.blocks]]
        self.t = 0

    def _swap(self, i, new):
        buf = self.buffers[i]
        slot = self.t % len(buf)
        old = buf[slot].clone()
        buf[slot] = new
        return old

    @torch.no_grad()
    def step(self, q):
        e = self.model.embed(q)
        x = conv_step(self.model.input, self._swap(0, e), e)
        total = 0
        for i, (block, cond) in enumerate(zip(self.model.blocks, self.cond), start=1):
            h = conv_step(block.conv, self._swap(i, x), x) + cond
            a, b = h.chunk(2, dim=1)
            z = (torch.tanh(a) * torch.sigmoid(b))[:, :, None]
            total = total + block.skip(z)
            x = x + block.res(z)[:, :, 0]
        self.t += 1
        return self.model.head(total)[:, :, 0]
'''),
]

# the two mutants that the demo grades beside the reference, the blank and a damaged file
DEMO = ["symmetric-padding", "target-not-shifted"]
