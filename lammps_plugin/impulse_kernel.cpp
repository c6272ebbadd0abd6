/* The fused CPU kernel of the structured OGN: see impulse_kernel.h. Every formula here is one
   line of PairImpulseOGN._stage() in python/ogn_lammps/architectures/impulse.py, in the same
   order of features and outputs; fix ogn compares the two on its first inference. */

#include "impulse_kernel.h"

#include <algorithm>
#include <cstdlib>
#include <cmath>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#if defined(__x86_64__)
#include <immintrin.h>
#define OGN_KERNEL_X86 1
#endif

namespace ogn {

std::string ImpulseKernel::unsupported_reason()
{
#ifdef OGN_KERNEL_X86
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
    return "this CPU has no AVX2 and FMA instructions";
  return "";
#else
  return "the fused kernel is written for x86-64 CPUs with AVX2";
#endif
}

/* ----------------------------------------------------------------------
   weights and scales, read by name from the TorchScript module
------------------------------------------------------------------------- */

ImpulseKernel::ImpulseKernel(const torch::jit::Module &model)
{
  std::unordered_map<std::string, torch::Tensor> named;
  for (const auto &p : model.named_parameters()) named[p.name] = p.value;
  for (const auto &b : model.named_buffers()) named[b.name] = b.value;
  auto tensor = [&](const std::string &name) {
    auto found = named.find(name);
    if (found == named.end()) throw std::runtime_error("the model has no tensor " + name);
    if (found->second.scalar_type() != torch::kFloat32)
      throw std::runtime_error("tensor " + name + " is not float32");
    return found->second.to(torch::kCPU).contiguous();
  };
  auto scalar = [&](const std::string &name) { return tensor(name).item<float>(); };
  auto integer = [&](const char *name) {
    if (!model.hasattr(name)) throw std::runtime_error(std::string("the model has no attribute ") + name);
    return (int) model.attr(name).toInt();
  };

  Weights &wt = weights;
  wt.n_types = integer("n_types");
  wt.n_rbf = integer("n_rbf");
  wt.n_pairs = integer("n_pairs");
  const int nstages = integer("n_stages");
  // models exported before angular moments existed have no n_mom: they have none
  wt.n_mom = model.hasattr("n_mom") ? (int) model.attr("n_mom").toInt() : 0;
  // and those before the end moments have no end_mom
  wt.end_mom = wt.n_mom > 0 && model.hasattr("end_mom") && model.attr("end_mom").toInt() > 0;
  if (wt.n_types < 1 || wt.n_rbf < 2 || wt.n_pairs != wt.n_types * (wt.n_types + 1) / 2 || nstages < 1)
    throw std::runtime_error("unexpected shape: n_types " + std::to_string(wt.n_types) + ", n_rbf " +
                             std::to_string(wt.n_rbf) + ", n_pairs " + std::to_string(wt.n_pairs) + ", stages " +
                             std::to_string(nstages));
  wt.r_min = scalar("r_min");
  wt.cutoff = scalar("cutoff");
  wt.v_scale = scalar("v_scale");
  wt.p_scale = scalar("p_scale");
  wt.q_scale = scalar("q_scale");
  tau = scalar("tau");
  // the pair drag of stage 0, drag m_ref v_scale f(d) w, is a fixed multiple of f(d) w
  wt.drag_coef = scalar("drag") * scalar("m_ref") * wt.v_scale;
  if (wt.n_mom > 0) {
    auto scale = tensor("mom_scale");
    if (scale.numel() != wt.n_mom) throw std::runtime_error("mom_scale does not have one value per moment channel");
    for (int c = 0; c < wt.n_mom; c++) wt.mom_inv_scale.push_back(1.0f / scale[c].item<float>());
  }
  auto masses = tensor("inv_mass");
  if (masses.numel() != wt.n_types) throw std::runtime_error("inv_mass does not have one value per type");
  for (int t = 0; t < wt.n_types; t++) inv_mass.push_back(masses[t].item<float>());

  auto dense = [&](const std::string &prefix, int n_in, int n_out) {
    Dense d;
    auto w = tensor(prefix + ".weight"), b = tensor(prefix + ".bias");
    if (w.dim() != 2 || w.size(1) != n_in || (n_out > 0 && w.size(0) != n_out) || b.numel() != w.size(0))
      throw std::runtime_error(prefix + " has shape [" + std::to_string(w.size(0)) + ", " +
                               std::to_string(w.size(1)) + "], expected " + std::to_string(n_in) + " inputs");
    d.n_in = n_in;
    d.n_out = (int) w.size(0);
    d.w.assign(w.data_ptr<float>(), w.data_ptr<float>() + w.numel());
    d.b.assign(b.data_ptr<float>(), b.data_ptr<float>() + b.numel());
    return d;
  };
  for (int s = 0; s < nstages; s++) {
    const std::string prefix = "mlps." + std::to_string(s) + ".";
    // later stages see the moments of the start and, with end_mom, of the predicted end
    const int sets = s > 0 && wt.end_mom ? 2 : 1;
    const int n_in = (s == 0 ? wt.n_rbf + 2 + wt.n_pairs : 2 * wt.n_rbf + 6 + wt.n_pairs) + 6 * wt.n_mom * sets;
    Mlp mlp;
    mlp.hidden1 = dense(prefix + "0", n_in, 0);
    mlp.hidden2 = dense(prefix + "2", mlp.hidden1.n_out, 0);
    mlp.last = dense(prefix + "4", mlp.hidden2.n_out, (s == 0 ? 4 : 8) + 4 * wt.n_mom * sets);
    wt.mlps.push_back(std::move(mlp));
  }

  isa_name = "avx2";
#ifdef OGN_KERNEL_X86
  const char *forced = std::getenv("OGN_KERNEL_ISA");
  if (__builtin_cpu_supports("avx512f") && !(forced && std::string(forced) == "avx2")) isa_name = "avx512";
#endif
}

double ImpulseKernel::flops_per_pair() const
{
  double total = 0.0;
  for (const auto &mlp : weights.mlps)
    for (const Dense *d : {&mlp.hidden1, &mlp.hidden2, &mlp.last}) total += 2.0 * d->n_in * d->n_out;
  return total;
}

/* ----------------------------------------------------------------------
   node update: the same formulas as the tail of PairImpulseOGN._stage()
------------------------------------------------------------------------- */

void ImpulseKernel::stage(int s, int nnodes, const int64_t *types, const double *in, const int32_t *ei,
                          const int32_t *ej, const float *r, int64_t npairs, double *out)
{
  update(s, nnodes, types, in, pair_sums(s, nnodes, types, in, ei, ej, r, npairs), out);
}

/* ----------------------------------------------------------------------
   angular moments: PairImpulseOGN._moments() over the full graph, here each unordered pair
   once with the share of both atoms (M0, M2 even, M1 odd under i <-> j)
------------------------------------------------------------------------- */

double *ImpulseKernel::moment_sums(int nnodes, const int32_t *ei, const int32_t *ej, const float *r,
                                   int64_t npairs, const int32_t *ni, const float *ri, int64_t nself,
                                   const double *rows)
{
  const Weights &wt = weights;
  const int nm = wt.n_mom, width = 10 * nm;
  mom_sums.assign((size_t) nnodes * width, 0.0);
  if (nm == 0) return mom_sums.data();
  const float spacing = nm > 1 ? (wt.cutoff - wt.r_min) / (float) (nm - 1) : 1.0f;
  std::vector<float> g(nm);
  auto add = [&](int i, const float *v, int sign) {
    const float d = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    const float u[3] = {v[0] / d, v[1] / d, v[2] / d};
    const float x = std::min(d / wt.cutoff, 1.0f), f = (1.0f - x * x) * (1.0f - x * x);
    for (int c = 0; c < nm; c++) {
      g[c] = f;
      if (nm > 1) {
        const float t = (d - (wt.r_min + spacing * (float) c)) / spacing;
        g[c] *= std::exp(-std::min(t * t, 60.0f));
      }
    }
    const float uu[6] = {u[0] * u[0], u[1] * u[1], u[2] * u[2], u[0] * u[1], u[0] * u[2], u[1] * u[2]};
    double *row = &mom_sums[(size_t) i * width];
    for (int c = 0; c < nm; c++) {
      row[c] += g[c];
      for (int k = 0; k < 6; k++) row[nm + 6 * c + k] += g[c] * uu[k];
      for (int k = 0; k < 3; k++) row[7 * nm + 3 * c + k] += sign * g[c] * u[k];
    }
  };
  for (int64_t e = 0; e < npairs; e++) {
    const float *v = r + 3 * e;
    float moved[3];
    if (rows) {    // r'_ij = r_ij + dr_j - dr_i, in the float32 order of the pair loop
      const double *a = rows + 9 * (size_t) ei[e], *b = rows + 9 * (size_t) ej[e];
      for (int d = 0; d < 3; d++) moved[d] = v[d] + ((float) b[3 + d] - (float) a[3 + d]);
      v = moved;
    }
    add(ei[e], v, 1);
    add(ej[e], v, -1);    // u_ji = -u_ij
  }
  for (int64_t e = 0; e < nself; e++) add(ni[e], ri + 3 * e, 1);
  return mom_sums.data();
}

void ImpulseKernel::use_moments(int nnodes, bool end)
{
  const int nm = weights.n_mom, width = 10 * nm;
  std::vector<float> &moments = end ? moments_end : this->moments;
  moments.resize((size_t) nnodes * width);
  for (int n = 0; n < nnodes; n++)
    for (int c = 0; c < nm; c++) {
      const double scale = weights.mom_inv_scale[c];
      const double *in = &mom_sums[(size_t) n * width];
      float *out = &moments[(size_t) n * width];
      out[c] = (float) (in[c] * scale);
      for (int k = 0; k < 6; k++) out[nm + 6 * c + k] = (float) (in[nm + 6 * c + k] * scale);
      for (int k = 0; k < 3; k++) out[7 * nm + 3 * c + k] = (float) (in[7 * nm + 3 * c + k] * scale);
    }
}

double *ImpulseKernel::pair_sums(int s, int nnodes, const int64_t *types, const double *in, const int32_t *ei,
                                 const int32_t *ej, const float *r, int64_t npairs)
{
  if (s < 0 || s >= stages()) throw std::runtime_error("no stage " + std::to_string(s));
  const int width = s == 0 ? 3 : 9;
  // contiguous shares of the pairs (a multiple of the 16 lanes), at least 1024 pairs each
  // (a few hundred microseconds, against some 20 to start a thread)
  const int64_t blocks = (npairs + 15) / 16;
  const int used = (int) std::max<int64_t>(1, std::min<int64_t>(nthreads, blocks / 64));
  if ((int) sums.size() < used) sums.resize(used);
  for (int t = 0; t < used; t++) sums[t].assign(6 * (size_t) nnodes, 0.0);
  auto share = [&](int t) { return std::min(npairs, 16 * (blocks * t / used)); };
  std::vector<std::thread> pool;
  for (int t = 1; t < used; t++)
    pool.emplace_back([&, t] { pairs(s, types, in, width, ei, ej, r, share(t), share(t + 1), sums[t].data()); });
  pairs(s, types, in, width, ei, ej, r, 0, share(1), sums[0].data());
  for (auto &thread : pool) thread.join();
  double *total = sums[0].data();
  for (int t = 1; t < used; t++)
    for (size_t m = 0; m < 6 * (size_t) nnodes; m++) total[m] += sums[t][m];
  return total;
}

void ImpulseKernel::update(int s, int nnodes, const int64_t *types, const double *in, const double *total,
                           double *out) const
{
  const int width = s == 0 ? 3 : 9;
  for (int n = 0; n < nnodes; n++) {
    const double im = inv_mass[types[n] - 1], *row = in + (size_t) n * width, *sum = total + 6 * (size_t) n;
    double *o = out + (size_t) n * 9;
    for (int d = 0; d < 3; d++) {
      const double v = row[d];
      double dv = im * sum[d], correction = im * sum[3 + d];
      if (s > 0) {
        correction += row[3 + d] - tau * (v + 0.5 * row[6 + d]);
        dv += row[6 + d];
      }
      o[d] = v;
      o[3 + d] = tau * (v + 0.5 * dv) + correction;
      o[6 + d] = dv;
    }
  }
}

#ifdef OGN_KERNEL_X86

/* ----------------------------------------------------------------------
   the pair loop, compiled once per instruction set (impulse_pairs.inc); fix ogn calls it
   only after unsupported_reason() and the constructor have checked the CPU
------------------------------------------------------------------------- */

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {
using V = __m256;
constexpr int LANES = 8;
struct alignas(32) Lanes {
  float value[LANES];
};
inline V splat(float x) { return _mm256_set1_ps(x); }
inline V add(V a, V b) { return _mm256_add_ps(a, b); }
inline V sub(V a, V b) { return _mm256_sub_ps(a, b); }
inline V mul(V a, V b) { return _mm256_mul_ps(a, b); }
inline V div(V a, V b) { return _mm256_div_ps(a, b); }
inline V vmin(V a, V b) { return _mm256_min_ps(a, b); }
inline V vmax(V a, V b) { return _mm256_max_ps(a, b); }
inline V vsqrt(V a) { return _mm256_sqrt_ps(a); }
inline V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
inline V fnmadd(V a, V b, V c) { return _mm256_fnmadd_ps(a, b, c); }
inline V rcp_estimate(V a) { return _mm256_rcp_ps(a); }    // 12 bits
inline V round_nearest(V a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline V pow2(V n)
{
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
}
inline V load(const Lanes &a) { return _mm256_load_ps(a.value); }
inline void store(Lanes &a, V v) { _mm256_store_ps(a.value, v); }
inline V onehot(const int32_t *kinds, int m)
{
  const __m256i equal = _mm256_cmpeq_epi32(_mm256_load_si256((const __m256i *) kinds), _mm256_set1_epi32(m));
  return _mm256_and_ps(_mm256_castsi256_ps(equal), splat(1.0f));
}
#include "impulse_pairs.inc"
}    // namespace avx2
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
namespace avx512 {
using V = __m512;
constexpr int LANES = 16;
struct alignas(64) Lanes {
  float value[LANES];
};
inline V splat(float x) { return _mm512_set1_ps(x); }
inline V add(V a, V b) { return _mm512_add_ps(a, b); }
inline V sub(V a, V b) { return _mm512_sub_ps(a, b); }
inline V mul(V a, V b) { return _mm512_mul_ps(a, b); }
inline V div(V a, V b) { return _mm512_div_ps(a, b); }
inline V vmin(V a, V b) { return _mm512_min_ps(a, b); }
inline V vmax(V a, V b) { return _mm512_max_ps(a, b); }
inline V vsqrt(V a) { return _mm512_sqrt_ps(a); }
inline V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
inline V fnmadd(V a, V b, V c) { return _mm512_fnmadd_ps(a, b, c); }
inline V rcp_estimate(V a) { return _mm512_rcp14_ps(a); }    // 14 bits
inline V round_nearest(V a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline V pow2(V n)
{
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23));
}
inline V load(const Lanes &a) { return _mm512_load_ps(a.value); }
inline void store(Lanes &a, V v) { _mm512_store_ps(a.value, v); }
inline V onehot(const int32_t *kinds, int m)
{
  const __mmask16 equal = _mm512_cmpeq_epi32_mask(_mm512_load_si512(kinds), _mm512_set1_epi32(m));
  return _mm512_maskz_mov_ps(equal, splat(1.0f));
}
#include "impulse_pairs.inc"
}    // namespace avx512
#pragma GCC pop_options

void ImpulseKernel::pairs(int s, const int64_t *types, const double *in, int width, const int32_t *ei,
                          const int32_t *ej, const float *r, int64_t begin, int64_t end, double *sum) const
{
  const float *mom = weights.n_mom > 0 ? moments.data() : nullptr;
  const float *mom_end = s > 0 && weights.end_mom ? moments_end.data() : nullptr;
  if (isa_name == "avx512")
    avx512::pairs(weights, s, types, in, width, ei, ej, r, mom, mom_end, begin, end, sum);
  else
    avx2::pairs(weights, s, types, in, width, ei, ej, r, mom, mom_end, begin, end, sum);
}

#else

void ImpulseKernel::pairs(int, const int64_t *, const double *, int, const int32_t *, const int32_t *, const float *,
                          int64_t, int64_t, double *) const
{
  throw std::runtime_error(unsupported_reason());
}

#endif

}    // namespace ogn
