"""The structured OGN: momentum-exact pair impulses in predictor-corrector stages (design §4b).

Every pair (i, j) within the cutoff gets invariant features of its geometry and its relative
velocity; an MLP turns them into scalars, and the scalars weight the pair's own vectors:

    u = r_ij / d (r_ij = r_j - r_i, d = |r_ij|),  w = (v_j - v_i) / v_scale
    p_ij = f(d) (a u + b w),   q_ij = f(d) (c u + e w)    (f: smooth envelope, 0 at r_c)

The features (radial basis of d, u.w, |w|, the unordered type pair) are the same for (i, j)
and (j, i), while u and w change sign, so p_ji = -p_ij to the last bit. Hence, by
construction:

- dv_i = P / m_i sum_j p_ij: the total momentum sum_i m_i dv_i is zero to rounding, also
  across MPI ranks (both owners compute p_ij from the same inputs);
- rotations, reflections, translations, permutations and Galilean boosts act on the output
  as on the input (no augmentation needed);
- positions follow a kinematic prior, dr_i = tau (v_i + dv_i / 2) + Q / m_i sum_j q_ij, with
  tau = k dt: constant-force flight plus a learned antisymmetric correction, so the centre
  of mass moves exactly by tau P_total / M.

Stage s >= 1 (predictor-corrector) recomputes each pair's geometry at the end of the step
predicted by stage s - 1 (r'_ij = r_ij + dr_j - dr_i, w' from v + dv) and adds impulses along
u, w, u' and w'. Since dr_j depends on j's own neighbours, a later stage sees directional
many-body information, which EAM and Stillinger-Weber need.

A last term, a pair drag p_ij = gamma f(d) m_ref w_ij (momentum-exact too), is not learned: its
gamma is calibrated after training (train/calibration.py) to remove the model's mean
kinetic-energy bias per inference (design §4b: that bias decides whether long runs heat or cool).

Stages for MPI (docs/model.md): stage 0 takes velocities and returns [v, dr, dv] (9 per node);
stage s >= 1 takes and returns [v, dr, dv]; `finish` returns [dr, dv]. Ghost rows must hold
their owners' values on entry.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Dict, Tuple

import torch
from torch import Tensor, nn


@dataclass
class ImpulseConfig:
    """The [model] settings of the structured OGN (besides `architecture` and `cutoff`)."""

    n_types: int
    stages: int = 3
    width: int = 64
    n_rbf: int = 16
    # training only: evaluate each unordered pair once and apply +p and -p (same function)
    half_pairs: bool = True
    # calibrate the drag gamma after training so that the mean temperature bias is zero
    drag_correction: bool = True
    # > 0: calibrate gamma on the model's own rollouts of this many inferences from held-out
    # states (no temperature trend, as in NVE at equilibrium) instead of on single steps
    calibration_inferences: int = 0
    # what the rollout calibration drives to zero: "trend", the slope of the kinetic energy
    # along the rollouts, or "temperature", their mean kinetic energy against the data's own
    # (a model that loses energy in its first inferences and then holds it has no trend)
    calibration_target: str = "trend"
    # how many evenly spaced test-split states the rollout calibration starts from: the
    # "temperature" target's spread between starts is about +-6% for silicon, so 8 starts
    # leave about +-2% on the mean
    calibration_starts: int = 8
    # > 0: per-atom angular moments in this many radial channels enter every pair (docs/model.md,
    # "Angular moments"): the bond-angle information of three-body potentials (Stillinger-Weber)
    moments: int = 0
    # with moments: stages s >= 1 also take the moments at the end of the step the stage before
    # predicted (the corrector's angular information; without it three-body forces enter at the
    # start geometry only)
    end_moments: bool = False
    # 2: the moments stop at rank 2 (M0, M1, M2; bond angles to l = 2, enough for
    # Stillinger-Weber's (cos theta + 1/3)^2). 3: also M3 = sum_j g u u u, for potentials of
    # higher angular order (SNAP builds its energy from bispectrum components to 2J = 8)
    moment_rank: int = 2
    # with moments: each pair also sees its atoms' full rotational invariants of the moments,
    # |M1|^2, M2 : M2 (and M3 : M3 at rank 3), as sums and products: how crowded and how
    # anisotropic each neighbourhood is as a whole, not only along the bond (a many-body
    # potential's energy depends on them)
    moment_invariants: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def _mlp(n_in: int, width: int, n_out: int) -> nn.Sequential:
    net = nn.Sequential(nn.Linear(n_in, width), nn.SiLU(), nn.Linear(width, width), nn.SiLU(), nn.Linear(width, n_out))
    # A small last layer: the untrained model is close to its kinematic prior (free flight),
    # and impulses summed over many pairs do not start huge (design §4c).
    with torch.no_grad():
        net[4].weight.mul_(0.01)
        net[4].bias.zero_()
    return net


class PairImpulseOGN(nn.Module):
    """Momentum-exact, E(3)-equivariant learned integrator; physical units in and out."""

    name = "impulse"
    Config = ImpulseConfig
    wants_augmentation = False  # equivariant by construction

    @classmethod
    def from_settings(cls, settings: dict, system: dict) -> "PairImpulseOGN":
        config = ImpulseConfig(n_types=int(system["n_types"]), **settings)
        return cls(config, masses=system["masses"], tau=float(system["k"]) * float(system["dt"]),
                   cutoff=float(system["cutoff"]))

    def __init__(self, config: ImpulseConfig, masses, tau: float, cutoff: float):
        super().__init__()
        if config.stages < 1 or config.width < 1 or config.n_rbf < 2 or config.n_types < 1 or config.moments < 0:
            raise ValueError(f"impulse model needs stages >= 1, width >= 1, n_rbf >= 2, moments >= 0, got {config}")
        if config.moment_rank not in (2, 3):
            raise ValueError(f"impulse model: moment_rank = {config.moment_rank}, expected 2 or 3")
        if len(masses) != config.n_types:
            raise ValueError(f"impulse model: {len(masses)} masses for {config.n_types} types")
        if config.calibration_starts < 1:
            raise ValueError(f"impulse model: calibration_starts = {config.calibration_starts}, expected >= 1")
        if config.calibration_target not in ("trend", "temperature"):
            raise ValueError(f"impulse model: calibration_target = {config.calibration_target!r}, "
                             "expected \"trend\" or \"temperature\"")
        self.config = config
        self.n_stages = config.stages
        self.n_rbf = config.n_rbf
        nt = config.n_types
        self.n_types = nt
        masses_t = torch.as_tensor(masses, dtype=torch.float64)
        self.register_buffer("inv_mass", 1.0 / masses_t)
        self.register_buffer("m_ref", masses_t.mean())
        self.register_buffer("tau", torch.tensor(tau, dtype=torch.float64))
        self.register_buffer("cutoff", torch.tensor(cutoff, dtype=torch.float64))
        # data scales, fitted by prepare() before training; neutral values until then
        self.register_buffer("r_min", torch.tensor(0.0, dtype=torch.float64))
        self.register_buffer("v_scale", torch.tensor(1.0, dtype=torch.float64))
        self.register_buffer("p_scale", torch.tensor(1.0, dtype=torch.float64))
        self.register_buffer("q_scale", torch.tensor(1.0, dtype=torch.float64))
        self.register_buffer("dv_scale", torch.ones(nt, dtype=torch.float64))
        self.register_buffer("dr_scale", torch.ones(nt, dtype=torch.float64))
        self.register_buffer("drag", torch.tensor(0.0, dtype=torch.float64))
        # unordered type pairs (a, b) = (b, a); their index is computed, not stored: fix ogn
        # casts every buffer of the model to its dtype, an integer table included
        self.n_pairs = nt * (nt + 1) // 2
        # angular moments: per atom, in C radial channels, M0 = sum_j g, M1 = sum_j g u, M2 = sum_j g u u^T
        # (10 C numbers: 1 + 6 + 3); each pair sees 6 C invariants of its two atoms' moments and
        # 2 C more directions for its impulse, (M1_i - M1_j) and (M2_i + M2_j) u
        # (rank 3 appends M3, 10 C numbers, 2 C more invariants c_i + c_j, c_i c_j with
        # c = M3 : u u u seen from each atom, and C more directions (M3_i - M3_j) : u u)
        self.n_mom = config.moments
        self.mom_rank = config.moment_rank
        self.mom_width = (10 if config.moment_rank == 2 else 20) * self.n_mom  # per atom
        self.mom_inv = 1 if (config.moment_invariants and self.n_mom > 0) else 0
        n_norms = 2 if config.moment_rank == 2 else 3  # |M1|^2, M2 : M2 (, M3 : M3)
        self.n_mfeat = ((6 if config.moment_rank == 2 else 8) + 2 * n_norms * self.mom_inv) * self.n_mom  # per pair
        self.n_dir = (2 if config.moment_rank == 2 else 3) * self.n_mom  # extra directions per pair
        self.register_buffer("mom_scale", torch.ones(max(config.moments, 1), dtype=torch.float64))
        n_first = config.n_rbf + 2 + self.n_pairs + self.n_mfeat
        self.end_mom = 1 if (config.end_moments and self.n_mom > 0) else 0
        n_later = 2 * config.n_rbf + 6 + self.n_pairs + self.n_mfeat * (1 + self.end_mom)
        n_extra = 2 * self.n_dir
        self.mlps = nn.ModuleList([_mlp(n_first, config.width, 4 + n_extra)] +
                                  [_mlp(n_later, config.width, 8 + n_extra * (1 + self.end_mom))
                                   for _ in range(config.stages - 1)])

    # ------------------------------------------------------------------ the function

    def _rbf(self, d: Tensor) -> Tensor:
        """Gaussians on [r_min, r_c], one spacing wide."""
        n = self.n_rbf
        lo, hi = self.r_min.to(d.dtype), self.cutoff.to(d.dtype)
        step = (hi - lo) / (n - 1)
        centres = lo + step * torch.arange(n, dtype=d.dtype, device=d.device)
        # exp(-60) = 9e-27 is zero next to the O(1) features; below about -87 float32 exp
        # leaves its vector path and costs ~100x more, which was 28% of a forward pass
        return torch.exp(-torch.clamp(((d.unsqueeze(1) - centres) / step) ** 2, max=60.0))

    def _envelope(self, d: Tensor) -> Tensor:
        x = torch.clamp(d / self.cutoff.to(d.dtype), max=1.0)
        return (1.0 - x * x) ** 2

    def _aggregate(self, rows: Tensor, src: Tensor, dst: Tensor, n_nodes: int, half: bool) -> Tensor:
        out = torch.zeros(n_nodes, 3, dtype=rows.dtype, device=rows.device).index_add(0, src, rows)
        if half:
            out = out.index_add(0, dst, -rows)
        return out

    def angular_moments(self, n_nodes: int, edge_index: Tensor, edge_vectors: Tensor) -> Tensor:
        """Per-atom angular moments (N, 10 C, or 20 C at rank 3) from a graph holding every pair
        in both directions: [M0 (C), M2 (C x 6: xx, yy, zz, xy, xz, yz), M1 (C x 3)] and at rank 3
        [M3 (C x 10: xxx, yyy, zzz, xxy, xxz, xyy, yyz, xzz, yzz, xyz)], each over its fitted scale."""
        dtype = self.mlps[0][0].weight.dtype
        c = self.n_mom
        r = edge_vectors.to(dtype)
        d = torch.sqrt((r * r).sum(1))
        u = r / d.unsqueeze(1)
        g = self._envelope(d).unsqueeze(1)
        if c > 1:
            lo, hi = self.r_min.to(dtype), self.cutoff.to(dtype)
            step = (hi - lo) / (c - 1)
            centres = lo + step * torch.arange(c, dtype=dtype, device=d.device)
            g = g * torch.exp(-torch.clamp(((d.unsqueeze(1) - centres) / step) ** 2, max=60.0))
        uu = torch.stack([u[:, 0] * u[:, 0], u[:, 1] * u[:, 1], u[:, 2] * u[:, 2],
                          u[:, 0] * u[:, 1], u[:, 0] * u[:, 2], u[:, 1] * u[:, 2]], 1)
        n_edges = r.shape[0]
        rows = torch.cat([g, (g.unsqueeze(2) * uu.unsqueeze(1)).reshape(n_edges, 6 * c),
                          (g.unsqueeze(2) * u.unsqueeze(1)).reshape(n_edges, 3 * c)], 1)
        if self.mom_rank == 3:
            rows = torch.cat([rows, (g.unsqueeze(2) * self._uuu(u).unsqueeze(1)).reshape(n_edges, 10 * c)], 1)
        sums = torch.zeros(n_nodes, self.mom_width, dtype=dtype, device=r.device).index_add(0, edge_index[0], rows)
        scale = 1.0 / self.mom_scale.to(dtype)
        parts = [sums[:, :c] * scale, (sums[:, c:7 * c].reshape(n_nodes, c, 6) * scale.unsqueeze(1))
                 .reshape(n_nodes, 6 * c), (sums[:, 7 * c:10 * c].reshape(n_nodes, c, 3) * scale.unsqueeze(1))
                 .reshape(n_nodes, 3 * c)]
        if self.mom_rank == 3:
            parts.append((sums[:, 10 * c:].reshape(n_nodes, c, 10) * scale.unsqueeze(1)).reshape(n_nodes, 10 * c))
        return torch.cat(parts, 1)

    def _norm_features(self, moments: Tensor, src: Tensor, dst: Tensor) -> Tensor:
        """Sums and products over the pair of each atom's |M1|^2, M2 : M2 (and M3 : M3), per channel."""
        c = self.n_mom
        n_nodes = moments.shape[0]
        m2 = moments[:, c:7 * c].reshape(n_nodes, c, 6)
        m1 = moments[:, 7 * c:10 * c].reshape(n_nodes, c, 3)
        w2 = torch.tensor([1.0, 1.0, 1.0, 2.0, 2.0, 2.0], dtype=moments.dtype, device=moments.device)
        norms = [(m1 * m1).sum(2), (m2 * m2 * w2).sum(2)]
        if self.mom_rank == 3:
            m3 = moments[:, 10 * c:].reshape(n_nodes, c, 10)
            w3 = torch.tensor([1.0, 1.0, 1.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 6.0], dtype=moments.dtype,
                              device=moments.device)
            norms.append((m3 * m3 * w3).sum(2))
        n = torch.cat(norms, 1)
        ni, nj = n.index_select(0, src), n.index_select(0, dst)
        return torch.cat([ni + nj, ni * nj], 1)

    @staticmethod
    def _uuu(u: Tensor) -> Tensor:
        """The 10 independent components of u u u (xxx, yyy, zzz, xxy, xxz, xyy, yyz, xzz, yzz, xyz)."""
        x, y, z = u[:, 0], u[:, 1], u[:, 2]
        return torch.stack([x * x * x, y * y * y, z * z * z, x * x * y, x * x * z, x * y * y, y * y * z,
                            x * z * z, y * z * z, x * y * z], 1)

    def _end_moments(self, nodes: Tensor, edge_index: Tensor, edge_vectors: Tensor) -> Tensor:
        """The moments at the end of the step that `nodes` ([v, dr, dv, ...]) predict, r'_ij =
        r_ij + dr_j - dr_i, from a graph holding every pair in both directions."""
        dtype = self.mlps[0][0].weight.dtype
        dr = nodes[:, 3:6].to(dtype)
        r2 = edge_vectors.to(dtype) + (dr.index_select(0, edge_index[1]) - dr.index_select(0, edge_index[0]))
        return self.angular_moments(nodes.shape[0], edge_index, r2)

    def _moment_terms(self, moments: Tensor, src: Tensor, dst: Tensor, u: Tensor) -> Tuple[Tensor, Tensor]:
        """The pair's invariants of its atoms' moments (E, 6 C; 8 C at rank 3), symmetric under
        i <-> j, and its extra directions (E, 2 C, 3; 3 C at rank 3), odd under i <-> j."""
        c = self.n_mom
        n_nodes = moments.shape[0]
        m0 = moments[:, :c]
        m2 = moments[:, c:7 * c].reshape(n_nodes, c, 6)
        m1 = moments[:, 7 * c:10 * c].reshape(n_nodes, c, 3)
        m0i, m0j = m0.index_select(0, src), m0.index_select(0, dst)
        m1i, m1j = m1.index_select(0, src), m1.index_select(0, dst)
        m2i, m2j = m2.index_select(0, src), m2.index_select(0, dst)
        m2s = m2i + m2j
        ue = u.unsqueeze(1)
        ai, aj = (m1i * ue).sum(2), -(m1j * ue).sum(2)
        ux, uy, uz = u[:, 0:1], u[:, 1:2], u[:, 2:3]
        # u^T M u with the off-diagonal terms counted twice
        uu2 = torch.cat([ux * ux, uy * uy, uz * uz, 2 * ux * uy, 2 * ux * uz, 2 * uy * uz], 1).unsqueeze(1)
        bi, bj = (m2i * uu2).sum(2), (m2j * uu2).sum(2)
        features = torch.cat([m0i + m0j, m0i * m0j, ai + aj, ai * aj, bi + bj, bi * bj], 1)
        if self.mom_inv > 0:
            features = torch.cat([features, self._norm_features(moments, src, dst)], 1)
        # (M2_i + M2_j) u: u flips under i <-> j, the sum does not
        mu = torch.stack([m2s[:, :, 0] * ux + m2s[:, :, 3] * uy + m2s[:, :, 4] * uz,
                          m2s[:, :, 3] * ux + m2s[:, :, 1] * uy + m2s[:, :, 5] * uz,
                          m2s[:, :, 4] * ux + m2s[:, :, 5] * uy + m2s[:, :, 2] * uz], 2)
        if self.mom_rank == 2:
            return features, torch.cat([m1i - m1j, mu], 1)
        # rank 3: c = M3 : u u u from i, and from j along -u (odd rank: the sign flips)
        m3 = moments[:, 10 * c:].reshape(n_nodes, c, 10)
        m3i, m3j = m3.index_select(0, src), m3.index_select(0, dst)
        # u u u with each component's multiplicity in the full contraction
        uuu = (self._uuu(u) * torch.tensor([1.0, 1.0, 1.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 6.0],
                                           dtype=u.dtype, device=u.device)).unsqueeze(1)
        ci, cj = (m3i * uuu).sum(2), -(m3j * uuu).sum(2)
        # (M3_i - M3_j) : u u, a vector; u u is even under i <-> j, the difference is odd
        d3 = m3i - m3j
        xx, yy, zz = ux * ux, uy * uy, uz * uz
        xy, xz, yz = 2 * ux * uy, 2 * ux * uz, 2 * uy * uz
        # component a of T : u u = sum_bc T_abc u_b u_c over the stored (xxx, yyy, zzz, xxy, xxz, xyy,
        # yyz, xzz, yzz, xyz)
        t = [d3[:, :, i] for i in range(10)]
        vx = t[0] * xx + t[5] * yy + t[7] * zz + t[3] * xy + t[4] * xz + t[9] * yz
        vy = t[3] * xx + t[1] * yy + t[8] * zz + t[5] * xy + t[9] * xz + t[6] * yz
        vz = t[4] * xx + t[6] * yy + t[2] * zz + t[9] * xy + t[7] * xz + t[8] * yz
        return (torch.cat([features, ci + cj, ci * cj], 1),
                torch.cat([m1i - m1j, mu, torch.stack([vx, vy, vz], 2)], 1))

    def _stage(self, index: int, types: Tensor, nodes: Tensor, edge_index: Tensor, edge_vectors: Tensor,
               half: bool, end_moments: Tensor) -> Tensor:
        """One stage on [v, M] (index 0) or [v, dr, dv, M]; returns [v, dr, dv, M] (N, 9 + 10 C),
        M the angular moments (none when C = 0). end_moments: with `end_moments` in the config,
        the moments at the end of the step `nodes` predict (N, 10 C; unused in stage 0)."""
        dtype = self.mlps[0][0].weight.dtype
        src, dst = edge_index[0], edge_index[1]
        n_nodes = nodes.shape[0]
        c = self.n_mom
        moments = nodes[:, nodes.shape[1] - self.mom_width:].to(dtype)
        v = nodes[:, :3].to(dtype)
        r = edge_vectors.to(dtype)
        d = torch.sqrt((r * r).sum(1))
        u = r / d.unsqueeze(1)
        vs = self.v_scale.to(dtype)
        w = (v.index_select(0, dst) - v.index_select(0, src)) / vs
        f = self._envelope(d).unsqueeze(1)
        ti, tj = types.index_select(0, src) - 1, types.index_select(0, dst) - 1
        a, b = torch.minimum(ti, tj), torch.maximum(ti, tj)
        pairs = a * self.n_types - (a * (a - 1)) // 2 + (b - a)
        onehot = torch.nn.functional.one_hot(pairs, self.n_pairs).to(dtype)
        uw = (u * w).sum(1, keepdim=True)
        wn = torch.sqrt((w * w).sum(1, keepdim=True) + 1e-12)
        inv_m = self.inv_mass.to(dtype).index_select(0, types - 1).unsqueeze(1)
        tau = self.tau.to(dtype)
        extra = torch.zeros(d.shape[0], 0, 3, dtype=dtype, device=d.device)
        if c > 0:
            mfeat, extra = self._moment_terms(moments, src, dst, u)
        else:
            mfeat = torch.zeros(d.shape[0], 0, dtype=dtype, device=d.device)
        if index == 0:
            features = torch.cat([self._rbf(d), uw, wn, onehot, mfeat], 1)
            coef = f * self.mlps[0](features)
            nd = self.n_dir
            p = coef[:, 0:1] * u + coef[:, 1:2] * w + (coef[:, 4:4 + nd].unsqueeze(2) * extra).sum(1)
            q = coef[:, 2:3] * u + coef[:, 3:4] * w + (coef[:, 4 + nd:4 + 2 * nd].unsqueeze(2) * extra).sum(1)
            drag = (self.drag.to(dtype) * self.m_ref.to(dtype) * vs) * f * w
            dv = inv_m * (self.p_scale.to(dtype) * self._aggregate(p, src, dst, n_nodes, half)
                          + self._aggregate(drag, src, dst, n_nodes, half))
            correction = inv_m * self.q_scale.to(dtype) * self._aggregate(q, src, dst, n_nodes, half)
        else:
            dr0, dv0 = nodes[:, 3:6].to(dtype), nodes[:, 6:9].to(dtype)
            correction0 = dr0 - tau * (v + 0.5 * dv0)
            r2 = r + (dr0.index_select(0, dst) - dr0.index_select(0, src))
            d2 = torch.sqrt((r2 * r2).sum(1))
            u2 = r2 / d2.unsqueeze(1)
            v2 = v + dv0
            w2 = (v2.index_select(0, dst) - v2.index_select(0, src)) / vs
            features = torch.cat([
                self._rbf(d), self._rbf(d2), uw, wn, (u2 * w2).sum(1, keepdim=True),
                torch.sqrt((w2 * w2).sum(1, keepdim=True) + 1e-12), (u * u2).sum(1, keepdim=True),
                (u * w2).sum(1, keepdim=True) + (u2 * w).sum(1, keepdim=True), onehot, mfeat], 1)
            extra_all = extra
            if self.end_mom > 0:  # (only with moments)
                # the same invariants and directions of the predicted end geometry
                mfeat2, extra2 = self._moment_terms(end_moments.to(dtype), src, dst, u2)
                features = torch.cat([features, mfeat2], 1)
                extra_all = torch.cat([extra, extra2], 1)
            ce = self.n_dir * (1 + self.end_mom)  # extra directions: 2 C (3 C at rank 3) per moment set
            coef = torch.zeros(features.shape[0], 8 + 2 * ce, dtype=dtype, device=features.device)
            for s, mlp in enumerate(self.mlps):
                if s == index:
                    coef = f * mlp(features)
            p = (coef[:, 0:1] * u + coef[:, 1:2] * w + coef[:, 2:3] * u2 + coef[:, 3:4] * w2
                 + (coef[:, 8:8 + ce].unsqueeze(2) * extra_all).sum(1))
            q = (coef[:, 4:5] * u + coef[:, 5:6] * w + coef[:, 6:7] * u2 + coef[:, 7:8] * w2
                 + (coef[:, 8 + ce:8 + 2 * ce].unsqueeze(2) * extra_all).sum(1))
            dv = dv0 + inv_m * self.p_scale.to(dtype) * self._aggregate(p, src, dst, n_nodes, half)
            correction = correction0 + inv_m * self.q_scale.to(dtype) * self._aggregate(q, src, dst, n_nodes, half)
        dr = tau * (v + 0.5 * dv) + correction
        return torch.cat([v, dr, dv, moments], 1)

    def _run(self, types: Tensor, velocities: Tensor, edge_index: Tensor, edge_vectors: Tensor, half: bool,
             moments: Tensor, full_index: Tensor, full_vectors: Tensor) -> Tensor:
        """All stages on the pairs (edge_index, edge_vectors); the moments come from the full
        graph (full_index, full_vectors), which holds every pair in both directions and an
        atom's own periodic images."""
        nodes = torch.cat([velocities.to(moments.dtype), moments], 1)
        none = torch.zeros(nodes.shape[0], 0, dtype=moments.dtype, device=moments.device)
        for s in range(self.n_stages):
            end = none
            if s > 0 and self.end_mom > 0:
                end = self._end_moments(nodes, full_index, full_vectors)
            nodes = self._stage(s, types, nodes, edge_index, edge_vectors, half, end)
        return nodes[:, 3:9]

    def _full_moments(self, n_nodes: int, edge_index: Tensor, edge_vectors: Tensor) -> Tensor:
        """The moments of a full graph, or an empty (N, 0) table for a model without them."""
        if self.n_mom > 0:
            return self.angular_moments(n_nodes, edge_index, edge_vectors)
        return torch.zeros(n_nodes, 0, dtype=self.mlps[0][0].weight.dtype, device=edge_vectors.device)

    @staticmethod
    def _each_pair_once(edge_index: Tensor, edge_vectors: Tensor) -> Tuple[Tensor, Tensor]:
        """The edges with i < j of a graph that holds every pair in both directions.

        The pair impulses are odd under i <-> j (u, w, and the stage-2 terms all flip sign),
        so one evaluation per unordered pair, added to i and subtracted from j, is the full
        sum: half the MLP work. An atom's edges to its own periodic images (i = j) come in
        +r / -r couples whose impulses cancel exactly, so they are dropped too. On several
        ranks an edge (local i, foreign j) is kept and its reverse dropped: the foreign
        node's sum is discarded, its owner computes it.
        """
        keep = edge_index[0] < edge_index[1]
        return edge_index[:, keep], edge_vectors[keep]

    def forward(self, types: Tensor, velocities: Tensor, edge_index: Tensor, edge_vectors: Tensor) -> Tensor:
        """One inference: [dr, dv] (N, 6) over k MD steps, in the model's dtype.

        types: (N,) int64 LAMMPS types 1..n_types; velocities (N, 3); edge_index (2, E) int64
        with every ordered pair [i; j] within the cutoff; edge_vectors (E, 3) = r_j - r_i.
        """
        moments = self._full_moments(velocities.shape[0], edge_index, edge_vectors)
        pair_index, pair_vectors = self._each_pair_once(edge_index, edge_vectors)
        return self._run(types, velocities, pair_index, pair_vectors, True, moments, edge_index, edge_vectors)

    @torch.jit.export
    def stage(self, index: int, types: Tensor, nodes: Tensor, edges: Tensor, edge_index: Tensor,
              edge_vectors: Tensor) -> Tuple[Tensor, Tensor]:
        """Stage `index` for fix ogn on several ranks; this model keeps no edge state. With angular
        moments, stage 0 computes them ([v, M]; the ghosts' rows are wrong until the fix refreshes
        them from their owners) and stage s runs the pair stage s - 1. With end moments as well,
        the pair stages 1, 2, ... are each preceded by one that appends the moments at the
        predicted end ([v, dr, dv, M, M'], the ghosts' M' refreshed by the fix in between)."""
        end = torch.zeros(nodes.shape[0], 0, dtype=nodes.dtype, device=nodes.device)
        if self.n_mom > 0:
            if index == 0:
                moments = self.angular_moments(nodes.shape[0], edge_index, edge_vectors)
                return torch.cat([nodes[:, :3].to(moments.dtype), moments], 1), edges
            index = index - 1
            if self.end_mom > 0:
                if index % 2 == 1:
                    moments = self._end_moments(nodes, edge_index, edge_vectors)
                    return torch.cat([nodes, moments.to(nodes.dtype)], 1), edges
                index = index // 2
                width = 9 + self.mom_width
                if nodes.shape[1] > width:
                    end = nodes[:, width:]
                    nodes = nodes[:, :width]
        edge_index, edge_vectors = self._each_pair_once(edge_index, edge_vectors)
        return self._stage(index, types, nodes, edge_index, edge_vectors, True, end), edges

    @torch.jit.export
    def finish(self, nodes: Tensor) -> Tensor:
        return nodes[:, 3:9]

    # ------------------------------------------------------------------ contract and cost

    @torch.jit.unused
    def program(self) -> Dict[str, object]:
        if self.n_mom > 0:
            m = self.mom_width
            if self.end_mom > 0:  # [moments, pair 0, (end moments, pair s) for s >= 1]
                return {"stages": 2 * self.n_stages, "exchange": [3, 3 + m] + [9 + m, 9 + 2 * m] * (self.n_stages - 1),
                        "node_input": "velocities"}
            return {"stages": self.n_stages + 1, "exchange": [3, 3 + m] + [9 + m] * (self.n_stages - 1),
                    "node_input": "velocities"}
        return {"stages": self.n_stages, "exchange": [3] + [9] * (self.n_stages - 1), "node_input": "velocities"}

    @torch.jit.unused
    def flops_per_pair(self) -> int:
        """Multiply-add FLOPs (2 per MAC) of the MLPs per pair, all stages: each unordered pair
        is evaluated once (half of this per ordered pair)."""
        total = 0
        for mlp in self.mlps:
            for layer in (mlp[0], mlp[2], mlp[4]):
                total += 2 * layer.in_features * layer.out_features
        return total

    @torch.jit.unused
    def flops(self, n_nodes: int, n_edges: int) -> int:
        """FLOPs of one forward pass on a graph of n_edges ordered pairs, MLPs only."""
        return self.flops_per_pair() * n_edges // 2

    # ------------------------------------------------------------------ training's view of the function

    @torch.jit.unused
    def forward_on_pairs(self, types: Tensor, velocities: Tensor, edge_index: Tensor, edge_vectors: Tensor,
                         half: bool) -> Tensor:
        """forward() on the full graph (every pair in both directions); with `half`, each
        unordered pair is evaluated once and applied to both atoms (`half_graph`), as training
        does: the same function, half the MLP work. The loss, the fitted scales and the drag
        calibration live in train/objectives.py and train/calibration.py."""
        moments = self._full_moments(len(types), edge_index, edge_vectors)
        pair_index, pair_vectors, use_half = edge_index, edge_vectors, False
        if half:
            pair_index, pair_vectors, use_half = self.half_graph(edge_index, edge_vectors)
        return self._run(types, velocities, pair_index, pair_vectors, use_half, moments, edge_index, edge_vectors)

    @staticmethod
    def half_graph(edge_index: Tensor, edge_vectors: Tensor) -> Tuple[Tensor, Tensor, bool]:
        """Each unordered pair once (i < j), or the full graph when an atom sees its own image."""
        if bool((edge_index[0] == edge_index[1]).any()):
            return edge_index, edge_vectors, False
        keep = edge_index[0] < edge_index[1]
        return edge_index[:, keep], edge_vectors[keep], True
