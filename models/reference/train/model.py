"""The reference fused multimodal multi-task network.

image [N,3,128,128] -> shared conv encoder (strided stem, one residual conv per stage)
text  [N,L] ids + mask -> embedding -> BiLSTM -> masked mean -> text vector
fusion: for the mask, the 16x16 feature map with coordinate channels is FiLM-conditioned on
the text vector and decoded back to 64x64 through skips from the encoder; for match, each
of two text queries scores every 16x16 location (does an object there fit the mentioned
object?), and the head reads whether each fits somewhere and where. shape / colors / count
read the image features alone.

Outputs are raw (logits or values): activations and thresholds live in model.json, so the
runtime decides them from the manifest, never from code.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

OUTPUT_NAMES = ["shape_logits", "colors_logits", "count", "match_logit", "mask_logits",
                "objects_boxes", "objects_scores", "scene_logits"]
GRID = 16  # detection candidates: one per cell of the 16x16 feature grid (8 px of the input)
BOX_SIZE_UNIT = 32.0 / 128.0  # predicted box sizes are exp(raw) times this (normalised)
INPUT_NAMES = ["image", "input_ids", "attention_mask"]


class ConvBNReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1):
        super().__init__(
            nn.Conv2d(cin, cout, k, stride, k // 2, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class Residual(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return F.relu(x + self.bn(self.conv(x)))


def coord_channels(x: torch.Tensor) -> torch.Tensor:
    """Two channels with x and y in [-1, 1], shaped like x's spatial grid."""
    n, _, h, w = x.shape
    ys = torch.linspace(-1.0, 1.0, h, device=x.device).view(1, 1, h, 1).expand(n, 1, h, w)
    xs = torch.linspace(-1.0, 1.0, w, device=x.device).view(1, 1, 1, w).expand(n, 1, h, w)
    return torch.cat([xs, ys], dim=1)


class ImageEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = ConvBNReLU(3, 16, 3, 2)  # 64x64
        self.stage2 = nn.Sequential(ConvBNReLU(16, 32, 3, 2), Residual(32))  # 32x32
        self.stage3 = nn.Sequential(ConvBNReLU(32, 64, 3, 2), Residual(64))  # 16x16
        self.stage4 = nn.Sequential(ConvBNReLU(64, 128, 3, 2), Residual(128))  # 8x8

    def forward(self, image):
        f1 = self.stem(image)
        f2 = self.stage2(f1)
        f3 = self.stage3(f2)
        f4 = self.stage4(f3)
        return f1, f2, f3, f4


class TextEncoder(nn.Module):
    """Token states (BiLSTM) and a sentence vector (their masked mean, layer-normed: no ReLU,
    whose dead units would drop words)."""

    def __init__(self, vocab_size: int, dim: int = 128):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, 64, padding_idx=0)
        self.lstm = nn.LSTM(64, dim // 2, batch_first=True, bidirectional=True)
        self.proj = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)

    def forward(self, input_ids, attention_mask):
        tokens, _ = self.lstm(self.embed(input_ids))
        m = attention_mask.to(tokens.dtype).unsqueeze(-1)
        pooled = (tokens * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)
        return self.norm(self.proj(pooled)), tokens


class FiLM(nn.Module):
    def __init__(self, text_dim: int, channels: int):
        super().__init__()
        self.to_gamma_beta = nn.Linear(text_dim, 2 * channels)

    def forward(self, x, t):
        gamma, beta = self.to_gamma_beta(t).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
        return F.relu(x * (1.0 + gamma) + beta)


def mlp(cin: int, hidden: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(cin, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, cout))


class FusedShapesNet(nn.Module):
    def __init__(self, vocab_size: int, n_shapes: int = 6, n_colors: int = 8, text_dim: int = 128):
        super().__init__()
        self.image_encoder = ImageEncoder()
        self.text_encoder = TextEncoder(vocab_size, text_dim)
        # Text-conditioned 16x16 map.
        self.cond_conv1 = nn.Sequential(nn.Conv2d(64 + 2, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64, affine=False))
        self.film1 = FiLM(text_dim, 64)
        self.cond_conv2 = nn.Sequential(nn.Conv2d(64, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64, affine=False))
        self.film2 = FiLM(text_dim, 64)
        # Match: per mentioned object, a detection score at every 16x16 location (a bilinear
        # form of text query and image key, plus a text-dependent bias, trained to be
        # calibrated: > 0 exactly where an object fits the mention); its max says whether one
        # exists, its softmax where.
        # The key map also sees the input's mean colour per 8x8 cell: deeper features carry
        # colour weakly, and without it the keys learned shape and size but dropped colour.
        self.key_conv = ConvBNReLU(64 + 2 + 3, 64, 3)
        self.keys = nn.Conv2d(64, 64, 1)
        # Each query reads the caption's tokens with its own attention (the words of its
        # mentioned object), so colour, shape and size words reach it directly.
        self.token_attention = nn.Linear(text_dim, 2)
        self.queries = nn.Linear(text_dim, 64)
        self.query_bias = nn.Linear(text_dim, 1)
        self.match_head = mlp(text_dim + 2 + 2 * 2, 128, 1)
        # Training only (not in the exported graph): both sides of the match name attributes,
        # keys those of the object centred in their cell, queries those of their mention.
        self.key_attributes = nn.Linear(64, 8 + 6 + 2)
        self.query_attributes = nn.Linear(64, 8 + 6 + 3)
        # Image-only heads. `shape` names the largest object's shape: besides the pooled
        # features, it reads per-cell shape logits weighted by a softmax over a per-cell radius
        # map (trained on every cell of every object), so the largest object's cells decide.
        self.cell_radius = nn.Conv2d(64, 1, 1)
        self.cell_shape = nn.Conv2d(64, n_shapes, 1)
        self.radius_sharpness = nn.Parameter(torch.tensor(20.0))
        self.shape_head = mlp(256, 128, n_shapes)
        self.colors_head = mlp(256, 128, n_colors)
        self.count_head = mlp(256, 64, 1)
        # Mask decoder: 16 -> 32 (skip f2) -> 64 (skip f1).
        self.dec16 = nn.Conv2d(64, 32, 1)
        self.dec32 = ConvBNReLU(32 + 32, 24, 3)
        self.dec64 = ConvBNReLU(24 + 16, 16, 1)
        self.mask_out = nn.Conv2d(16, 1, 3, 1, 1)
        # Objects (detection, image only): the 16x16 key features (they already learn each
        # cell's shape and radius) with the 8x8 features' wider context; per cell, 6 class
        # logits (CenterNet-like: high at the cell holding an object's box centre) and a box.
        # Sums of 1x1 projections instead of convolutions over concatenations (a 1x1 conv
        # commutes with the upsampling): the same features for a fraction of the time.
        self.det_local = nn.Conv2d(64, 64, 1, bias=False)
        self.det_context = nn.Conv2d(128, 64, 1, bias=False)
        self.det_norm = nn.BatchNorm2d(64)
        self.det_scores = nn.Conv2d(64, n_shapes, 1)
        nn.init.constant_(self.det_scores.bias, -2.19)  # sigmoid 0.1: most cells are background
        self.det_box = nn.Conv2d(64, 4, 1)
        centres = (torch.arange(GRID, dtype=torch.float32) + 0.5) / GRID
        cy, cx = torch.meshgrid(centres, centres, indexing="ij")
        self.register_buffer("cell_centres", torch.stack([cx, cy], dim=-1).reshape(1, GRID * GRID, 2),
                             persistent=False)
        # Scene (semantic segmentation, image only): a decoder from the detection features,
        # 16 -> 32 (skip f2) -> 64 (skip f1), 7 classes; skips are added, not concatenated.
        self.scene16 = nn.Conv2d(64, 16, 1, bias=False)
        self.scene_skip32 = nn.Conv2d(32, 16, 1, bias=False)
        self.scene_norm32 = nn.BatchNorm2d(16)
        self.scene32 = ConvBNReLU(16, 16, 3)
        self.scene_up64 = nn.Conv2d(16, 16, 1, bias=False)
        self.scene_skip64 = nn.Conv2d(16, 16, 1, bias=False)
        self.scene_norm64 = nn.BatchNorm2d(16)
        self.scene_out = nn.Conv2d(16, n_shapes + 1, 3, 1, 1)

    def forward(self, image, input_ids, attention_mask):
        f1, f2, f3, f4 = self.image_encoder(image)
        t, tokens = self.text_encoder(input_ids, attention_mask)

        pooled = torch.cat([f4.mean(dim=(2, 3)), f4.amax(dim=(2, 3))], dim=1)
        colors_logits = self.colors_head(pooled)
        count = self.count_head(pooled)

        coords = coord_channels(f3)
        cell_colour = F.avg_pool2d(image, 8)  # N,3,16,16
        key_features = self.key_conv(torch.cat([f3, coords, cell_colour], dim=1))  # N,64,16,16
        radius = self.cell_radius(key_features).flatten(1)  # N,HW
        cell_shapes = self.cell_shape(key_features).flatten(2)  # N,6,HW
        largest = torch.softmax(radius * self.radius_sharpness, dim=1).unsqueeze(-1)  # N,HW,1
        shape_logits = self.shape_head(pooled) + torch.bmm(cell_shapes, largest).squeeze(-1)
        self.radius_map, self.cell_shape_logits = radius, cell_shapes  # read by the training loss
        m = self.film1(self.cond_conv1(torch.cat([f3, coords], dim=1)), t)
        m = self.film2(self.cond_conv2(m), t)

        keys = self.keys(key_features).flatten(2)  # N,64,HW
        valid = attention_mask.unsqueeze(1).to(tokens.dtype)  # N,1,L
        word_logits = self.token_attention(tokens).transpose(1, 2)  # N,2,L
        word_logits = word_logits * valid + (valid - 1.0) * 1e4  # padding never attended
        mention = torch.bmm(torch.softmax(word_logits, dim=-1), tokens)  # N,2,128
        queries = self.queries(mention)  # N,2,64
        scores = torch.bmm(queries, keys) / 8.0 + self.query_bias(mention)  # N,2,HW
        self.key_map, self.query_vectors = keys, queries  # read by the training loss
        self.detection_scores = scores  # read by the training loss, not exported
        exists = scores.amax(dim=-1)  # N,2
        where = torch.bmm(torch.softmax(scores, dim=-1), coords.flatten(2).transpose(1, 2))  # N,2,2
        match_logit = self.match_head(torch.cat([t, exists, where.flatten(1)], dim=1))

        d = F.interpolate(self.dec16(m), scale_factor=2.0, mode="bilinear", align_corners=False)
        d = self.dec32(torch.cat([d, f2], dim=1))
        d = F.interpolate(d, scale_factor=2.0, mode="bilinear", align_corners=False)
        d = self.dec64(torch.cat([d, f1], dim=1))
        mask_logits = self.mask_out(d)

        context = F.interpolate(self.det_context(f4), scale_factor=2.0, mode="bilinear", align_corners=False)
        det = F.relu(self.det_norm(self.det_local(key_features) + context))  # N,64,16,16
        objects_scores = self.det_scores(det).flatten(2).transpose(1, 2)  # N,HW,6 raw logits
        raw_box = self.det_box(det).flatten(2).transpose(1, 2)  # N,HW,4
        self.raw_boxes = raw_box  # read by the training loss
        # Decoded in the graph: centre = cell centre + offset (in cells), size = exp(raw) x 32 px;
        # cxcywh normalised to the 128x128 input.
        centre = self.cell_centres + raw_box[..., :2] / GRID
        size = torch.exp(raw_box[..., 2:].clamp(-4.0, 4.0)) * BOX_SIZE_UNIT
        objects_boxes = torch.cat([centre, size], dim=-1)  # N,HW,4

        s = F.interpolate(self.scene16(det), scale_factor=2.0, mode="bilinear", align_corners=False)
        s = self.scene32(F.relu(self.scene_norm32(s + self.scene_skip32(f2))))  # N,16,32,32
        s = F.interpolate(self.scene_up64(s), scale_factor=2.0, mode="bilinear", align_corners=False)
        s = F.relu(self.scene_norm64(s + self.scene_skip64(f1)))  # N,16,64,64
        scene_logits = self.scene_out(s)  # N,7,64,64
        return (shape_logits, colors_logits, count, match_logit, mask_logits,
                objects_boxes, objects_scores, scene_logits)


def count_macs(model: nn.Module, size: int = 128, seq_len: int = 16) -> int:
    """Multiply-accumulates of one pair: convolutions, linear layers, the LSTM and attention."""
    macs = 0
    hooks = []

    def conv_hook(mod, _inp, out):
        nonlocal macs
        k = mod.kernel_size[0] * mod.kernel_size[1] * (mod.in_channels // mod.groups)
        macs += out.numel() * k

    def linear_hook(mod, inp, out):
        nonlocal macs
        macs += out.numel() * mod.in_features

    def lstm_hook(mod, inp, _out):
        nonlocal macs
        steps = inp[0].shape[1]
        per_step = 4 * mod.hidden_size * (mod.input_size + mod.hidden_size)
        macs += steps * per_step * (2 if mod.bidirectional else 1)

    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            hooks.append(mod.register_forward_hook(conv_hook))
        elif isinstance(mod, nn.Linear):
            hooks.append(mod.register_forward_hook(linear_hook))
        elif isinstance(mod, nn.LSTM):
            hooks.append(mod.register_forward_hook(lstm_hook))
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size), torch.ones(1, seq_len, dtype=torch.long),
              torch.ones(1, seq_len, dtype=torch.long))
    for h in hooks:
        h.remove()
    # Detection scores and the softmax read-out of positions: 2 queries x 256 positions x (64 + 2).
    macs += 2 * 256 * (64 + 2)
    return macs
