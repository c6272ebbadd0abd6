"""The observation-based graph network (OGN): encode, L message-passing layers, decode.

Architecture as in the paper's Methods 4.2-4.3 and design notes §4:

- node input n_i = [one-hot(type), v_i], edge input e_ij = r_j - r_i for every ordered pair
  within the cutoff (both directions), so the model is translation invariant by construction;
- encoder MLPs give 64-wide embeddings n^0, e^0;
- each processor layer concatenates the encoder embeddings to its input ("graph
  concatenation", 4.3 iii) and updates edges, then nodes:
  e_ij' = f_e([e_ij, e0_ij], [n_i, n0_i], [n_j, n0_j]);
  n_i'  = f_n([n_i, n0_i], sum_j e_ij', sum_j e_ji');
- the decoder maps n^L to the standardized [dr_i, dv_i].

Every MLP has one hidden layer of `width` (ReLU) and an output layer of `width` (ReLU),
followed by LayerNorm; the decoder's output layer is linear with 6 outputs and no LayerNorm.
Inputs and outputs are standardized with statistics accumulated during training (4.4 ii) and
frozen into the exported model.

The edge MLP's first Linear acts on [e, e0, n_i, n0_i, n_j, n0_j]. It is split into a per-edge
part and two per-node parts (computed once per node, then gathered), which is the same
function with half the FLOPs and without the 6 x width x E concatenation (design §4).

The scripted `forward(types, velocities, edge_index, edge_vectors)` is the one step function
(model/step.py): the Python rollout and `fix ogn` on one rank call it. For several
ranks the model is also exported as stages (`stage`, `finish`; docs/model.md): stage 0 is the
encoder, stage l the processor layer l, and the node rows [n, n0] are exchanged with the
ghost atoms' owners before every stage.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Dict, List, Tuple

import torch
from torch import Tensor, nn

# Haiku's TruncatedNormal (the paper's JAX stack) cuts at 2 sigma and rescales so that the
# truncated distribution keeps the requested standard deviation.
_TRUNCATED_STD = 0.87962566103423978


def truncated_normal_(weight: Tensor, fan_in: int) -> Tensor:
    """Fan-in scaled truncated normal (paper 4.4 iv): std 1/sqrt(fan_in), cut at 2 std."""
    std = 1.0 / math.sqrt(fan_in) / _TRUNCATED_STD
    with torch.no_grad():
        return nn.init.trunc_normal_(weight, mean=0.0, std=std, a=-2.0 * std, b=2.0 * std)


def _linear(n_in: int, n_out: int, fan_in: int | None = None, bias: bool = True) -> nn.Linear:
    layer = nn.Linear(n_in, n_out, bias=bias)
    truncated_normal_(layer.weight, fan_in or n_in)
    if bias:
        nn.init.zeros_(layer.bias)
    return layer


class Standardizer(nn.Module):
    """Online standardization (paper 4.4 ii): the running mean and variance of everything seen.

    Statistics are merged batch by batch in float64 by training (train/objectives.py `fold`), so
    the result equals numpy's mean and population std over all rows seen so far.
    """

    def __init__(self, size: int, eps: float = 1e-8):
        super().__init__()
        self.eps = eps
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("mean", torch.zeros(size, dtype=torch.float64))
        self.register_buffer("m2", torch.zeros(size, dtype=torch.float64))

    def std(self) -> Tensor:
        variance = self.m2 / torch.clamp(self.count, min=1.0)
        return torch.clamp(torch.sqrt(variance), min=self.eps)

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean.to(x.dtype)) / self.std().to(x.dtype)

    def inverse(self, y: Tensor) -> Tensor:
        return y * self.std().to(y.dtype) + self.mean.to(y.dtype)


class MLP(nn.Module):
    """Linear-ReLU-Linear-ReLU-LayerNorm (paper 4.3 i-ii)."""

    def __init__(self, n_in: int, width: int):
        super().__init__()
        self.hidden = _linear(n_in, width)
        self.out = _linear(width, width)
        self.norm = nn.LayerNorm(width)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(torch.relu(self.out(torch.relu(self.hidden(x)))))


class EdgeUpdate(nn.Module):
    """f_e of one processor layer, with its first Linear split into edge and node parts."""

    def __init__(self, width: int, chunk: int):
        super().__init__()
        fan_in = 6 * width  # the concatenated [e, e0, n_i, n0_i, n_j, n0_j]
        self.edge = _linear(width, width, fan_in)
        self.edge0 = _linear(width, width, fan_in, bias=False)
        self.sender = _linear(2 * width, width, fan_in, bias=False)
        self.receiver = _linear(2 * width, width, fan_in, bias=False)
        self.out = _linear(width, width)
        self.norm = nn.LayerNorm(width)
        self.chunk = chunk

    def _edges(self, e: Tensor, e0: Tensor, a: Tensor, b: Tensor, src: Tensor, dst: Tensor) -> Tensor:
        hidden = self.edge(e) + self.edge0(e0) + a.index_select(0, src) + b.index_select(0, dst)
        return self.norm(torch.relu(self.out(torch.relu(hidden))))

    def forward(self, e: Tensor, e0: Tensor, h: Tensor, src: Tensor, dst: Tensor) -> Tensor:
        a = self.sender(h)
        b = self.receiver(h)
        if self.chunk <= 0 or e.shape[0] <= self.chunk:
            return self._edges(e, e0, a, b, src, dst)
        # Chunks of edges keep the (chunk x width) temporaries in cache (design §4); split,
        # not slicing, so that the backward pass is one concatenation.
        parts: List[Tensor] = []
        for e_c, e0_c, src_c, dst_c in zip(e.split(self.chunk), e0.split(self.chunk), src.split(self.chunk), dst.split(self.chunk)):
            parts.append(self._edges(e_c, e0_c, a, b, src_c, dst_c))
        return torch.cat(parts, 0)


class ProcessorLayer(nn.Module):
    def __init__(self, width: int, chunk: int):
        super().__init__()
        self.edge_update = EdgeUpdate(width, chunk)
        self.node_update = MLP(4 * width, width)

    def forward(self, n: Tensor, n0: Tensor, e: Tensor, e0: Tensor, edge_index: Tensor) -> Tuple[Tensor, Tensor]:
        src, dst = edge_index[0], edge_index[1]
        h = torch.cat([n, n0], 1)
        e_new = self.edge_update(e, e0, h, src, dst)
        n_nodes = n.shape[0]
        # index_add, not torch_geometric's scatter: its backward is an index_select rather
        # than a gather over the broadcast index, 2x faster per training step on CPU.
        zeros = torch.zeros(n_nodes, e_new.shape[1], dtype=e_new.dtype, device=e_new.device)
        outgoing = zeros.index_add(0, src, e_new)
        incoming = zeros.index_add(0, dst, e_new)
        n_new = self.node_update(torch.cat([h, outgoing, incoming], 1))
        return n_new, e_new


@dataclass
class ModelConfig:
    """The [model] settings of the paper's OGN (besides `architecture` and `cutoff`)."""

    n_types: int
    n_layers: int = 10
    width: int = 64
    edge_chunk: int = 8192

    def to_dict(self) -> dict:
        return asdict(self)


class OGN(nn.Module):
    """Encoder, `n_layers` processor layers and decoder; physical units in and out."""

    name = "ogn"
    Config = ModelConfig
    # one random cubic symmetry per configuration per epoch (4.4 vii): rotations are learned
    wants_augmentation = True

    @classmethod
    def from_settings(cls, settings: dict, system: dict) -> "OGN":
        """The model for `system` (n_types, masses, dt, k, cutoff) with the [model] settings."""
        return cls(ModelConfig(n_types=int(system["n_types"]), **settings))

    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.n_types < 1 or config.n_layers < 1 or config.width < 1:
            raise ValueError(f"model needs n_types, n_layers and width >= 1, got {config}")
        self.config = config
        self.n_types = config.n_types
        self.n_layers = config.n_layers
        w = config.width
        self.node_norm = Standardizer(config.n_types + 3)
        self.edge_norm = Standardizer(3)
        self.target_norm = Standardizer(6)
        self.node_encoder = MLP(config.n_types + 3, w)
        self.edge_encoder = MLP(3, w)
        self.layers = nn.ModuleList([ProcessorLayer(w, config.edge_chunk) for _ in range(config.n_layers)])
        self.decoder_hidden = _linear(w, w)
        self.decoder_out = _linear(w, 6)

    def node_features(self, types: Tensor, velocities: Tensor) -> Tensor:
        """[one-hot(type), v] with LAMMPS types 1..n_types."""
        onehot = torch.nn.functional.one_hot(types.to(torch.int64) - 1, self.n_types)
        return torch.cat([onehot.to(velocities.dtype), velocities], 1)

    @torch.jit.export
    def encode(self, types: Tensor, velocities: Tensor, edge_vectors: Tensor) -> Tuple[Tensor, Tensor]:
        """Node and edge embeddings (n0, e0) from raw types, velocities and r_j - r_i."""
        dtype = self.decoder_out.weight.dtype
        nodes = self.node_norm(self.node_features(types, velocities.to(dtype)))
        edges = self.edge_norm(edge_vectors.to(dtype))
        return self.node_encoder(nodes), self.edge_encoder(edges)

    @torch.jit.export
    def process(self, layer: int, n: Tensor, n0: Tensor, e: Tensor, e0: Tensor, edge_index: Tensor) -> Tuple[Tensor, Tensor]:
        """Processor layer `layer` (0-based): returns the updated (n, e)."""
        for index, block in enumerate(self.layers):
            if index == layer:
                return block(n, n0, e, e0, edge_index)
        raise RuntimeError("process: layer index out of range")

    @torch.jit.export
    def decode_standardized(self, n: Tensor) -> Tensor:
        return self.decoder_out(torch.relu(self.decoder_hidden(n)))

    @torch.jit.export
    def decode(self, n: Tensor) -> Tensor:
        """Physical [dr, dv] (N, 6) for the k MD steps the model was trained on."""
        return self.target_norm.inverse(self.decode_standardized(n))

    def embed(self, types: Tensor, velocities: Tensor, edge_index: Tensor, edge_vectors: Tensor) -> Tensor:
        n0, e0 = self.encode(types, velocities, edge_vectors)
        n, e = n0, e0
        for block in self.layers:
            n, e = block(n, n0, e, e0, edge_index)
        return n

    def forward(self, types: Tensor, velocities: Tensor, edge_index: Tensor, edge_vectors: Tensor) -> Tensor:
        """One inference: [dr, dv] (N, 6) in the model's dtype and the data's units.

        types: (N,) int, LAMMPS types 1..n_types; velocities: (N, 3);
        edge_index: (2, E) int64, row 0 = i, row 1 = j; edge_vectors: (E, 3) = r_j - r_i,
        for every ordered pair within the cutoff.
        """
        return self.decode(self.embed(types, velocities, edge_index, edge_vectors))

    # ------------------------------------------------------------ staged form for MPI (docs/model.md)

    @torch.jit.export
    def stage(self, index: int, types: Tensor, nodes: Tensor, edges: Tensor, edge_index: Tensor,
              edge_vectors: Tensor) -> Tuple[Tensor, Tensor]:
        """Stage 0 encodes (nodes = velocities in, [n0, n0] out); stage l >= 1 is processor layer
        l - 1 on nodes [n, n0] and edges [e, e0]. Node rows of ghost atoms must hold their
        owners' values on entry; they are garbage on exit."""
        w = self.decoder_out.weight.shape[1]
        if index == 0:
            n0, e0 = self.encode(types, nodes, edge_vectors)
            return torch.cat([n0, n0], 1), torch.cat([e0, e0], 1)
        n, n0 = nodes[:, :w], nodes[:, w:]
        e, e0 = edges[:, :w], edges[:, w:]
        n, e = self.process(index - 1, n, n0, e, e0, edge_index)
        return torch.cat([n, n0], 1), torch.cat([e, e0], 1)

    @torch.jit.export
    def finish(self, nodes: Tensor) -> Tensor:
        """[dr, dv] (N, 6) from the last stage's node rows."""
        return self.decode(nodes[:, : self.decoder_out.weight.shape[1]])

    @torch.jit.unused
    def program(self) -> Dict[str, object]:
        """What fix ogn must supply and exchange on several ranks (metadata.json `program`)."""
        w = self.config.width
        return {"stages": self.n_layers + 1, "exchange": [3] + [2 * w] * self.n_layers,
                "node_input": "velocities"}

    @torch.jit.unused
    def flops(self, n_nodes: int, n_edges: int) -> int:
        return forward_flops(self.config, n_nodes, n_edges)

    @torch.jit.unused
    def standardized_output(self, types: Tensor, velocities: Tensor, edge_index: Tensor, edge_vectors: Tensor) -> Tensor:
        """The standardized prediction that the training loss compares with."""
        return self.decode_standardized(self.embed(types, velocities, edge_index, edge_vectors))


def forward_flops(config: ModelConfig, n_nodes: int, n_edges: int) -> int:
    """Multiply-add FLOPs (2 per MAC) of one forward pass with the split edge layer."""
    w, t = config.width, config.n_types
    mlp = lambda n_in: 2 * (n_in * w + w * w)  # noqa: E731
    flops = n_nodes * mlp(t + 3) + n_edges * mlp(3)
    per_layer = n_edges * 2 * (2 * w * w + w * w) + n_nodes * 2 * (2 * 2 * w * w) + n_nodes * mlp(4 * w)
    flops += config.n_layers * per_layer
    flops += n_nodes * 2 * (w * w + w * 6)
    return int(flops)
