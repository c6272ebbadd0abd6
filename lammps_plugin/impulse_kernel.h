/* The structured OGN (architecture "impulse", python/ogn_lammps/model/impulse.py)
   evaluated pair by pair in one fused CPU pass, with the weights of the exported model.

   The TorchScript forward() of that model runs some forty tensor operations per stage, each
   over every pair: their intermediates (tens of floats per pair) stream through memory, and
   at 10 000 atoms that traffic, not the multiply-adds, was 90% of the time (issue 11). Here
   16 (AVX-512) or 8 (AVX2) pairs at a time, one per SIMD lane, go through features, MLP and
   impulses in registers, and only the node sums touch memory (impulse_pairs.inc). The function is the same: fix ogn
   checks it against the model's own forward() on its first inference. */

#ifndef OGN_IMPULSE_KERNEL_H
#define OGN_IMPULSE_KERNEL_H

#include <torch/script.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ogn {

// threads that live as long as the kernel and wait between jobs, instead of threads started
// for each of the 4-6 passes over the pairs per inference (tens of microseconds each, and a
// new thread begins where the scheduler puts it). A waiting thread first spins for a while
// (kSpin) and only then sleeps: waking a sleeping thread took some 90 us per pass on this
// machine's virtual cores (silicon, 10 240 atoms, two threads: 2 ms of a 42 ms inference),
// and the passes of one inference follow each other within microseconds.
class Workers {
 public:
  static constexpr double kSpin = 2e-4;    // seconds a waiting thread spins before it sleeps
  Workers() = default;
  Workers(const Workers &) = delete;
  Workers &operator=(const Workers &) = delete;
  ~Workers();
  // work(t) for t = 0 .. n - 1, t = 0 on the calling thread; returns when all are done
  void run(int n, const std::function<void(int)> &work);

 private:
  std::vector<std::thread> threads;
  std::mutex mutex;
  std::condition_variable start, done;
  std::atomic<const std::function<void(int)> *> job{nullptr};
  std::atomic<unsigned long> generation{0};
  std::atomic<int> active{0}, pending{0};
  std::atomic<bool> stop{false};
  void loop(int t);
};

// the items of one pass over the pairs, dealt to its threads in chunks. Each thread owns a
// contiguous range and takes chunks from its front; a thread whose range is done takes them
// from the back of the others'. Fixed shares left one thread up to 5% behind the other on
// silicon's pairs (the pairs of low atom indices cost more), and a busy core on a shared
// machine holds up the whole pass; taking each other's last chunks evens out both, while each
// thread still walks mostly its own pairs in order (chunks dealt in turn cost locality: 4%).
// Which thread sums which chunk then depends on timing: the node sums, in double, can differ
// in their last bits from run to run.
class Chunks {
 public:
  // n items for `used` threads, in chunks of `chunk` items (the last one shorter)
  void reset(int used, int64_t n, int64_t chunk);
  // the next chunk [begin, end) for thread t; false once every chunk is taken
  bool next(int t, int64_t &begin, int64_t &end);

 private:
  struct alignas(64) Range {    // chunks [front, back) of one thread, packed front << 32 | back
    std::atomic<uint64_t> span{0};
  };
  std::unique_ptr<Range[]> ranges;
  int used = 0, capacity = 0;
  int64_t n = 0, chunk = 1;
  bool take(int r, bool front, int64_t &begin, int64_t &end);
};

class ImpulseKernel {
 public:
  // whether this CPU can run the kernel (x86-64 with AVX2 and FMA); "" if so, else why not
  static std::string unsupported_reason();

  // reads the weights and scales of a float32 structured OGN; throws std::runtime_error
  // naming what is missing or of the wrong shape. The pair loop uses AVX-512 where the CPU
  // has it, unless the environment sets OGN_KERNEL_ISA=avx2.
  explicit ImpulseKernel(const torch::jit::Module &model);

  int stages() const { return (int) weights.mlps.size(); }
  // multiply-add FLOPs of the MLPs per unordered pair, all stages (as flops_per_pair() in Python)
  double flops_per_pair() const;

  // stage s on the node rows `in` ([v], width 3, for s = 0; [v, dr, dv], width 9, after) of
  // nnodes nodes; writes [v, dr, dv] (nnodes x 9) to `out`. Each unordered pair appears once,
  // as (ei, ej) with the vector r_j - r_i in r (3 floats per pair); pair sums go to ei with
  // a + sign and to ej with a - sign.
  void stage(int s, int nnodes, const int64_t *types, const double *in, const int32_t *ei, const int32_t *ej,
             const float *r, int64_t npairs, double *out);

  // stage() in two steps, for callers that add sums from other ranks in between (newton on):
  // the pair sums (nnodes x 6: impulse, position correction), then the node update from them
  double *pair_sums(int s, int nnodes, const int64_t *types, const double *in, const int32_t *ei,
                    const int32_t *ej, const float *r, int64_t npairs);
  void update(int s, int nnodes, const int64_t *types, const double *in, const double *sum, double *out) const;

  // angular moments (moments = C > 0 in the model): 10 C numbers per node (20 C at rank 3), else 0
  int moment_width() const { return weights.mom_width(); }
  // whether stages s >= 1 also take the moments at the end of the step the stage before
  // predicted (end_moments in the model)
  bool end_moments() const { return weights.end_mom; }
  // their sums over the pairs (each unordered pair once, both atoms get their share, as the
  // full graph of PairImpulseOGN._moments has it) and over one-sided pairs (an atom and its
  // own periodic image, in boxes shorter than the cutoff: ni nodes, vectors in ri); nnodes x
  // moment_width() unscaled, in a buffer the caller may complete (other ranks' shares) before
  // use_moments() scales them for the pair stages (and appends each atom's invariants of
  // them, with moment_invariants in the model). With node rows [v, dr, dv] (width 9) in
  // `rows`, the moments of the predicted end geometry, r_ij + dr_j - dr_i (an atom's own image
  // keeps its vector), for use_moments(nnodes, true)
  double *moment_sums(int nnodes, const int32_t *ei, const int32_t *ej, const float *r, int64_t npairs,
                      const int32_t *ni, const float *ri, int64_t nself, const double *rows = nullptr);
  void use_moments(int nnodes, bool end = false);

  // bytes the kernel holds: per-thread node sums and moment sums, and the angular moments
  double memory_bytes() const
  {
    double bytes = (double) mom_sums.capacity() * sizeof(double) +
        (double) (moments.capacity() + moments_end.capacity()) * sizeof(float);
    for (const auto &s : sums) bytes += (double) s.capacity() * sizeof(double);
    for (const auto &s : mom_parts) bytes += (double) s.capacity() * sizeof(double);
    return bytes;
  }

  // threads per stage (>= 1): each sums its share of the pairs into its own node sums
  void set_threads(int n) { nthreads = n < 1 ? 1 : n; }
  int threads() const { return nthreads; }
  // n items in contiguous shares [begin, end), one per thread and at least `grain` items
  // each (a thread costs some microseconds to wake): work(t, begin, end) on the kernel's
  // threads; returns the number of shares (also for fix ogn's loops over pairs or rows)
  int run_shares(int64_t n, int64_t grain, const std::function<void(int, int64_t, int64_t)> &work) const;

 // everything the pair loop reads: weights and scales of the model
  struct Dense {    // a linear layer, weights row-major [out][in] as torch keeps them
    int n_in = 0, n_out = 0;
    std::vector<float> w, b;
  };
  struct Mlp {
    Dense hidden1, hidden2, last;
  };
  struct Weights {
    std::vector<Mlp> mlps;
    int n_types = 0, n_rbf = 0, n_pairs = 0, n_mom = 0;
    int mom_rank = 2;    // 2: M0, M2, M1; 3: and M3 (moment_rank in the model)
    bool end_mom = false;
    bool mom_inv = false;    // each atom's |M1|^2, M2 : M2 (, M3 : M3) in the pair features
    float r_min = 0, cutoff = 0, v_scale = 1, p_scale = 1, q_scale = 1, drag_coef = 0;
    std::vector<float> mom_inv_scale;    // 1 / mom_scale per moment channel
    // the sizes of PairImpulseOGN.__init__, per moment set: an atom's moments (mom_width), its
    // invariants of them (norms per channel), the row of both that the pair loop reads per atom
    // (mom_row), a pair's features (n_mfeat there) and its extra directions (n_dir there)
    int mom_width() const { return (mom_rank == 3 ? 20 : 10) * n_mom; }
    int norms() const { return mom_inv ? (mom_rank == 3 ? 3 : 2) : 0; }
    int mom_row() const { return mom_width() + norms() * n_mom; }
    int mom_features() const { return ((mom_rank == 3 ? 8 : 6) + 2 * norms()) * n_mom; }
    int mom_dirs() const { return (mom_rank == 3 ? 3 : 2) * n_mom; }
  };

  // the instruction set of the pair loop: "avx512" (16 pairs per step) or "avx2" (8)
  const std::string &isa() const { return isa_name; }

 private:
  Weights weights;
  double tau = 0;
  std::vector<double> inv_mass;
  std::string isa_name;
  bool avx512_loop = false;    // isa_name == "avx512", for the dispatch every 16 pairs of the moments
  int nthreads = 1;
  mutable Workers workers;    // const passes (update) run on them too
  // per thread and node: impulse (3) and position correction (3)
  std::vector<std::vector<double>> sums;
  // per node: the moment sums, then (use_moments) scaled in float32 for the pair loop, with
  // the atom's invariants of them after (mom_row() floats)
  std::vector<double> mom_sums;
  std::vector<std::vector<double>> mom_parts;    // threads 2, 3, ...: their shares of mom_sums
  std::vector<float> moments, moments_end;

  // the moments' terms of 16 pairs (impulse_pairs.inc), vectors and w 64-byte aligned
  void moment_block(const float *vx, const float *vy, const float *vz, float *w) const;
  // adds them to the rows of both atoms of each pair (bt null: at's side only)
  void moment_scatter(int n, const float *w, float *own, const int32_t *at, const int32_t *bt, double *table) const;
  Chunks chunks;    // of the pass over the pairs under way
  void pairs(int s, const int64_t *types, const double *in, int width, const int32_t *ei, const int32_t *ej,
             const float *r, int t, double *sum);
  // total[m] += parts[p][m] for the n_parts tables, on the threads, each over a share of m
  void add_up(double *total, const std::vector<double> *parts, int n_parts, size_t size) const;
};

}    // namespace ogn

#endif
