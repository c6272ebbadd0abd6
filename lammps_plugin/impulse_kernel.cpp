/* The fused CPU kernel of the structured OGN: see impulse_kernel.h. Every formula here is one
   line of PairImpulseOGN._stage() in python/ogn_lammps/model/impulse.py, in the same
   order of features and outputs; fix ogn compares the two on its first inference. */

#include "impulse_kernel.h"

#include <algorithm>
#include <chrono>
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
  // those before rank-3 moments have rank 2, and those before the moment invariants none
  wt.mom_rank = wt.n_mom > 0 && model.hasattr("mom_rank") ? (int) model.attr("mom_rank").toInt() : 2;
  if (wt.mom_rank != 2 && wt.mom_rank != 3)
    throw std::runtime_error("angular moments of rank " + std::to_string(wt.mom_rank) +
                             " (the fused kernel has ranks 2 and 3)");
  wt.mom_inv = wt.n_mom > 0 && model.hasattr("mom_inv") && model.attr("mom_inv").toInt() > 0;
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
    const int n_in = (s == 0 ? wt.n_rbf + 2 + wt.n_pairs : 2 * wt.n_rbf + 6 + wt.n_pairs) + wt.mom_features() * sets;
    Mlp mlp;
    mlp.hidden1 = dense(prefix + "0", n_in, 0);
    mlp.hidden2 = dense(prefix + "2", mlp.hidden1.n_out, 0);
    mlp.last = dense(prefix + "4", mlp.hidden2.n_out, (s == 0 ? 4 : 8) + 2 * wt.mom_dirs() * sets);
    wt.mlps.push_back(std::move(mlp));
  }

  isa_name = "avx2";
#ifdef OGN_KERNEL_X86
  const char *forced = std::getenv("OGN_KERNEL_ISA");
  if (__builtin_cpu_supports("avx512f") && !(forced && std::string(forced) == "avx2")) isa_name = "avx512";
  avx512_loop = isa_name == "avx512";
#endif
}

Workers::~Workers()
{
  {
    std::lock_guard<std::mutex> lock(mutex);
    stop = true;
  }
  start.notify_all();
  for (auto &thread : threads) thread.join();
}

// spins until ready() or kSpin seconds have passed; whether ready() became true
template <class Ready> static bool spin_until(Ready ready)
{
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(Workers::kSpin);
  for (;;) {
    for (int i = 0; i < 64; i++) {
      if (ready()) return true;
#ifdef OGN_KERNEL_X86
      _mm_pause();
#endif
    }
    if (std::chrono::steady_clock::now() > until) return ready();
  }
}

void Workers::run(int n, const std::function<void(int)> &work)
{
  if (n <= 1) return work(0);
  while ((int) threads.size() < n - 1) threads.emplace_back(&Workers::loop, this, (int) threads.size() + 1);
  job = &work;
  active = n;
  pending = n - 1;
  {
    // under the lock: a thread that is about to sleep sees either the old generation and is
    // woken by the notify, or the new one and does not sleep
    std::lock_guard<std::mutex> lock(mutex);
    generation++;
  }
  start.notify_all();
  work(0);
  if (!spin_until([&] { return pending.load() == 0; })) {
    std::unique_lock<std::mutex> lock(mutex);
    done.wait(lock, [&] { return pending.load() == 0; });
  }
}

void Workers::loop(int t)
{
  unsigned long seen = 0;
  for (;;) {
    if (!spin_until([&] { return stop.load() || generation.load() != seen; })) {
      std::unique_lock<std::mutex> lock(mutex);
      start.wait(lock, [&] { return stop.load() || generation.load() != seen; });
    }
    if (stop) return;
    seen = generation;
    if (t >= active) continue;
    (*job.load())(t);
    if (--pending == 0) {
      std::lock_guard<std::mutex> lock(mutex);    // the caller checks pending under it
      done.notify_one();
    }
  }
}

void Chunks::reset(int used, int64_t n, int64_t chunk)
{
  if (used > capacity) {
    ranges.reset(new Range[used]);
    capacity = used;
  }
  this->used = used, this->n = n, this->chunk = chunk;
  const int64_t total = (n + chunk - 1) / chunk;
  if (total >= ((int64_t) 1 << 32)) throw std::runtime_error("too many pairs for one pass: " + std::to_string(n));
  for (int r = 0; r < used; r++) {
    const uint64_t front = (uint64_t) (total * r / used), back = (uint64_t) (total * (r + 1) / used);
    ranges[r].span.store(front << 32 | back);
  }
}

bool Chunks::take(int r, bool front, int64_t &begin, int64_t &end)
{
  uint64_t span = ranges[r].span.load();
  for (;;) {
    const uint64_t f = span >> 32, b = span & 0xffffffffu;
    if (f >= b) return false;
    const uint64_t taken = front ? f : b - 1;
    const uint64_t rest = front ? (f + 1) << 32 | b : f << 32 | (b - 1);
    if (ranges[r].span.compare_exchange_weak(span, rest)) {
      begin = (int64_t) taken * chunk;
      end = std::min(n, begin + chunk);
      return true;
    }
  }
}

bool Chunks::next(int t, int64_t &begin, int64_t &end)
{
  if (take(t, true, begin, end)) return true;
  for (int k = 1; k < used; k++)
    if (take((t + k) % used, false, begin, end)) return true;
  return false;
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
   once with the share of both atoms (M0, M2 even, M1 and M3 odd under i <-> j)
------------------------------------------------------------------------- */

// n floats at a 64-byte boundary inside buffer (the SIMD blocks' aligned loads and stores)
static float *aligned_block(std::vector<float> &buffer, size_t n)
{
  buffer.resize(n + 16);
  return (float *) (((uintptr_t) buffer.data() + 63) & ~(uintptr_t) 63);
}

double *ImpulseKernel::moment_sums(int nnodes, const int32_t *ei, const int32_t *ej, const float *r,
                                   int64_t npairs, const int32_t *ni, const float *ri, int64_t nself,
                                   const double *rows)
{
  const int nm = weights.n_mom, width = weights.mom_width();
  const size_t size = (size_t) nnodes * width;
  if (nm == 0) {
    mom_sums.assign(size, 0.0);
    return mom_sums.data();
  }
  // each pair's terms are computed once, 16 pairs to a SIMD block, and added to both atoms (M1
  // with the sign of u_ji = -u_ij). Each thread sums the chunks of pairs it takes (Chunks,
  // 512 pairs each) into a table of its own, added up at the end, as in pair_sums (a share
  // below some 4 000 pairs costs more to start than it saves).
  const int used = (int) std::max<int64_t>(1, std::min<int64_t>(nthreads, npairs / 4096));
  if ((int) mom_parts.size() < used - 1) mom_parts.resize(used - 1);
  mom_sums.resize(size);
  for (int t = 1; t < used; t++) mom_parts[t - 1].resize(size);
  chunks.reset(used, npairs, 512);
  // up to 16 vectors (x, y, z each) of pairs (at[l], bt[l]); bt null: at's side only
  auto add_block = [&](int n, const float *vectors, const int32_t *at, const int32_t *bt, double *table,
                       float *w) {
    alignas(64) float vx[16], vy[16], vz[16];
    for (int l = 0; l < 16; l++) {
      const bool real = l < n;
      vx[l] = real ? vectors[3 * l] : 1.0f;    // padding lanes: any vector of nonzero length
      vy[l] = real ? vectors[3 * l + 1] : 0.0f;
      vz[l] = real ? vectors[3 * l + 2] : 0.0f;
    }
    moment_block(vx, vy, vz, w);
    moment_scatter(n, w, w + 16 * width, at, bt, table);
  };
  auto sum_pairs = [&](int t) {
    double *table = t == 0 ? mom_sums.data() : mom_parts[t - 1].data();
    std::fill(table, table + size, 0.0);    // each thread its own table: tens of MB a second
    std::vector<float> buffer;
    float *w = aligned_block(buffer, (size_t) 17 * width);    // the terms, then one lane's
    float moved[48];
    int64_t begin, end;
    while (chunks.next(t, begin, end))
      for (int64_t e = begin; e < end; e += 16) {
        const int n = (int) std::min<int64_t>(16, end - e);
        const float *v = r + 3 * e;
        if (rows) {    // r'_ij = r_ij + dr_j - dr_i, in the float32 order of the pair loop
          for (int l = 0; l < n; l++) {
            const double *a = rows + 9 * (size_t) ei[e + l], *b = rows + 9 * (size_t) ej[e + l];
            for (int d = 0; d < 3; d++) moved[3 * l + d] = v[3 * l + d] + ((float) b[3 + d] - (float) a[3 + d]);
          }
          v = moved;
        }
        add_block(n, v, ei + e, ej + e, table, w);
      }
  };
  double *total = mom_sums.data();
  workers.run(used, sum_pairs);
  add_up(total, mom_parts.data(), used - 1, size);
  // an atom and its own periodic image (boxes shorter than the cutoff): one side only
  std::vector<float> buffer;
  float *w = aligned_block(buffer, (size_t) 17 * width);    // the terms, then one lane's
  for (int64_t e = 0; e < nself; e += 16)
    add_block((int) std::min<int64_t>(16, nself - e), ri + 3 * e, ni + e, nullptr, total, w);
  return total;
}

void ImpulseKernel::use_moments(int nnodes, bool end)
{
  const int nm = weights.n_mom, width = weights.mom_width(), row = weights.mom_row();
  const bool rank3 = weights.mom_rank == 3;
  std::vector<float> &moments = end ? moments_end : this->moments;
  moments.resize((size_t) nnodes * row);
  // the weights of _norm_features: a symmetric tensor's full contraction with itself counts
  // each stored component as often as it occurs (xy twice; xxy three times, xyz six)
  static const float w2[6] = {1, 1, 1, 2, 2, 2}, w3[10] = {1, 1, 1, 3, 3, 3, 3, 3, 3, 6};
  run_shares(nnodes, 2048, [&](int, int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; n++)
      for (int c = 0; c < nm; c++) {
        const double scale = weights.mom_inv_scale[c];
        const double *in = &mom_sums[(size_t) n * width];
        float *out = &moments[(size_t) n * row];
        out[c] = (float) (in[c] * scale);
        for (int k = 0; k < 6; k++) out[nm + 6 * c + k] = (float) (in[nm + 6 * c + k] * scale);
        for (int k = 0; k < 3; k++) out[7 * nm + 3 * c + k] = (float) (in[7 * nm + 3 * c + k] * scale);
        if (rank3)    // M3 after M1 (PairImpulseOGN.angular_moments)
          for (int k = 0; k < 10; k++) out[10 * nm + 10 * c + k] = (float) (in[10 * nm + 10 * c + k] * scale);
        if (!weights.mom_inv) continue;
        // the atom's invariants, from the scaled float32 moments as _norm_features takes them:
        // |M1|^2, M2 : M2 (, M3 : M3), each C wide, after the moments
        const float *m1 = out + 7 * nm + 3 * c, *m2 = out + nm + 6 * c;
        float *norms = out + width;
        float n1 = 0.0f, n2 = 0.0f;
        for (int k = 0; k < 3; k++) n1 += m1[k] * m1[k];
        for (int k = 0; k < 6; k++) n2 += m2[k] * m2[k] * w2[k];
        norms[c] = n1;
        norms[nm + c] = n2;
        if (rank3) {
          const float *m3 = out + 10 * nm + 10 * c;
          float n3 = 0.0f;
          for (int k = 0; k < 10; k++) n3 += m3[k] * m3[k] * w3[k];
          norms[2 * nm + c] = n3;
        }
      }
  });
}

int ImpulseKernel::run_shares(int64_t n, int64_t grain, const std::function<void(int, int64_t, int64_t)> &work) const
{
  const int used = (int) std::max<int64_t>(1, std::min<int64_t>(nthreads, n / std::max<int64_t>(grain, 1)));
  workers.run(used, [&](int t) { work(t, n * t / used, n * (t + 1) / used); });
  return used;
}

void ImpulseKernel::add_up(double *total, const std::vector<double> *parts, int n_parts, size_t size) const
{
  if (n_parts < 1) return;
  run_shares((int64_t) size, 6 * 2048, [&](int, int64_t begin, int64_t end) {
    for (int p = 0; p < n_parts; p++)
      for (int64_t m = begin; m < end; m++) total[m] += parts[p][m];
  });
}

double *ImpulseKernel::pair_sums(int s, int nnodes, const int64_t *types, const double *in, const int32_t *ei,
                                 const int32_t *ej, const float *r, int64_t npairs)
{
  if (s < 0 || s >= stages()) throw std::runtime_error("no stage " + std::to_string(s));
  const int width = s == 0 ? 3 : 9;
  // shares of at least 1024 pairs (a few hundred microseconds, against tens to wake a
  // thread), in chunks of 512 pairs (32 blocks of 16 lanes, some 70 us of silicon's stages)
  const int64_t blocks = (npairs + 15) / 16;
  const int used = (int) std::max<int64_t>(1, std::min<int64_t>(nthreads, blocks / 64));
  if ((int) sums.size() < used) sums.resize(used);
  chunks.reset(used, npairs, 512);
  workers.run(used, [&](int t) {
    sums[t].assign(6 * (size_t) nnodes, 0.0);    // by the thread that fills them
    pairs(s, types, in, width, ei, ej, r, t, sums[t].data());
  });
  add_up(sums[0].data(), sums.data() + 1, used - 1, 6 * (size_t) nnodes);
  return sums[0].data();
}

void ImpulseKernel::update(int s, int nnodes, const int64_t *types, const double *in, const double *total,
                           double *out) const
{
  const int width = s == 0 ? 3 : 9;
  run_shares(nnodes, 2048, [&](int, int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; n++) {
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
  });
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

void ImpulseKernel::moment_block(const float *vx, const float *vy, const float *vz, float *w) const
{
  const int nm = weights.n_mom;
  const float spacing = nm > 1 ? (weights.cutoff - weights.r_min) / (float) (nm - 1) : 1.0f;
#ifdef OGN_KERNEL_X86
  if (avx512_loop) return avx512::moment_block(weights, spacing, vx, vy, vz, w);
  return avx2::moment_block(weights, spacing, vx, vy, vz, w);
#endif
  throw std::runtime_error("the fused kernel needs an x86 CPU");
}

void ImpulseKernel::moment_scatter(int n, const float *w, float *own, const int32_t *at, const int32_t *bt,
                                   double *table) const
{
#ifdef OGN_KERNEL_X86
  if (avx512_loop) return avx512::moment_scatter(weights.n_mom, weights.mom_width(), n, w, own, at, bt, table);
  return avx2::moment_scatter(weights.n_mom, weights.mom_width(), n, w, own, at, bt, table);
#endif
  throw std::runtime_error("the fused kernel needs an x86 CPU");
}

void ImpulseKernel::pairs(int s, const int64_t *types, const double *in, int width, const int32_t *ei,
                          const int32_t *ej, const float *r, int t, double *sum)
{
  const float *mom = weights.n_mom > 0 ? moments.data() : nullptr;
  const float *mom_end = s > 0 && weights.end_mom ? moments_end.data() : nullptr;
  if (avx512_loop)
    avx512::pairs(weights, s, types, in, width, ei, ej, r, mom, mom_end, chunks, t, sum);
  else
    avx2::pairs(weights, s, types, in, width, ei, ej, r, mom, mom_end, chunks, t, sum);
}

#else

void ImpulseKernel::pairs(int, const int64_t *, const double *, int, const int32_t *, const int32_t *, const float *,
                          int, double *)
{
  throw std::runtime_error(unsupported_reason());
}

#endif

}    // namespace ogn
