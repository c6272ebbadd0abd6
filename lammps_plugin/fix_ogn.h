/* fix ogn: a learned integrator (Liu et al., Mater. Horiz. 2023) that advances positions and
   velocities by k MD steps per LAMMPS timestep with an exported OGN TorchScript model. */

#ifdef FIX_CLASS
// clang-format off
FixStyle(ogn,FixOGN);
// clang-format on
#else

#ifndef OGN_FIX_OGN_H
#define OGN_FIX_OGN_H

#include <torch/script.h>

#include "fix.h"
#include "impulse_kernel.h"

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace LAMMPS_NS {

class FixOGN : public Fix {
 public:
  FixOGN(class LAMMPS *, int, char **);
  ~FixOGN() override;

  int setmask() override;
  void init() override;
  void init_list(int, class NeighList *) override;
  void setup(int) override;
  void initial_integrate(int) override;
  void post_force(int) override;
  void final_integrate() override;
  void post_run() override;
  double compute_scalar() override;
  double memory_usage() override;
  void grow_arrays(int) override;
  void copy_arrays(int, int, int) override;
  int pack_exchange(int, double *) override;
  int unpack_exchange(int, double *) override;

  int pack_forward_comm(int, int *, double *, int, int *) override;
  void unpack_forward_comm(int, int, double *) override;
  int pack_reverse_comm(int, int, double *) override;
  void unpack_reverse_comm(int, int *, double *) override;

 private:
  // the model and the contract it was exported with (metadata.json, docs/model.md)
  torch::jit::Module model;
  std::string model_file, architecture, system_name, units, model_dtype;
  double dt_model, timestep_model, cutoff;
  int k, metadata_k, n_types;
  std::vector<double> masses;
  // the model's program: one width per stage, of the node rows exchanged before it
  std::vector<int> exchange_widths;
  int comm_width;
  torch::Device device;
  torch::ScalarType dtype;
  // the structured OGN on the CPU: its fused kernel (kernel auto|fused), checked against the
  // model's forward() on the first inference; otherwise the TorchScript forward() itself
  std::unique_ptr<ogn::ImpulseKernel> kernel;
  bool kernel_checked;
  bool newton_pairs;    // fused kernel, several ranks: a pair with a foreign atom on one rank (on) or both (off)
  std::vector<double> kernel_check;    // its largest differences (dr, dv), until reported

  class NeighList *list;
  int nprocs;

  // graph nodes: local atoms first, then ghost atoms owned by another rank. A ghost that
  // is a periodic image of a local atom is that atom's node (node_of), as in a periodic graph.
  bigint mapped_at;
  std::vector<int> node_of, node_atom;
  std::vector<int64_t> node_types;
  std::vector<double> velocities;
  std::unordered_map<tagint, int> local_of_tag;
  int nforeign;

  // candidate pairs (local i, any j) from the neighbour list, once per build; for the fused
  // kernel each unordered pair once (node i < node j: the impulses are odd under i <-> j)
  std::vector<int32_t> cand_i, cand_j, half_i, half_j, self_i, self_j;
  void unique_pairs();

  // per-step graph, rebuilt from the candidates every inference
  std::vector<int64_t> src, dst, rsrc, rdst;
  std::vector<double> vec, rvec;
  std::vector<int32_t> pair_src32, pair_dst32;
  std::vector<float> pair_vec;
  // the fused kernel's angular moments: pairs of an atom and its own image (boxes shorter than r_c)
  std::vector<int32_t> self_src32;
  std::vector<float> self_vec;
  // node rows [v, dr, dv] in and out of the fused kernel's stages
  std::vector<double> rows_in, rows_out;

  // the same candidate pairs on a CUDA device, uploaded once per neighbour list build
  torch::Tensor pair_i, pair_j, pair_src, pair_dst;

  // the forward communication: local rows are packed from where they lie (comm_src, rows of
  // comm_stride doubles, the columns from comm_offset on); ghosts' rows arrive in comm_rows
  std::vector<double> comm_rows, exchanged;
  const double *comm_src = nullptr;
  int comm_stride = 0, comm_offset = 0;
  // the angular moments travel as float32, two to a double slot (the kernel rounds them to
  // float32 anyway); comm_rows then holds the ghosts' rows in that form
  bool comm_float = false, reverse_float = false;
  std::vector<float> wire;
  // fused kernel on several ranks: the pair sums of foreign nodes, returned to their owners,
  // which add them straight into their own sums (reverse_dst); ghosts' shares in `returned`
  std::vector<double> returned;
  double *reverse_dst = nullptr;
  int reverse_width = 6;

  // forces of later fixes (thermostats, external fields) act as half-kicks around the learned
  // step, as fix nve would give them (OBABO); the forces before those fixes are kept to
  // tell them apart from the pair style's, which the model already contains
  bool kick_flag;
  std::vector<double> f_before_fixes;
  // energy yes: velocities rescaled after each inference so that the true total energy
  // (the deck's pair style plus kinetic) equals its value before the inference
  bool energy_flag;
  std::string id_pe;
  class Compute *pe;
  double pe_last, energy_before, energy_scale;

  // wall time per phase over the current run, reported by post_run()
  double time_graph, time_model, time_comm, time_wait;    // time_wait: part of time_comm
  bigint ninference, nedges_total;
  // f_ID per atom: this rank's own work per local atom and inference (graph and model, not
  // the exchange), in microseconds, a running mean; `fix balance ... weight var` on it
  // gives the slower core fewer atoms (LAMMPS's weight time counts no fix's time)
  double cost_per_atom;
  std::vector<double> cost_atom;
  void set_cost(double work_seconds);

  void read_model(const std::string &path);
  void select_device(const std::string &request);
  std::string select_kernel(const std::string &request);
  void map_nodes();
  torch::Tensor build_edges(torch::Tensor &edge_vectors);
  void build_pairs();
  void wait_for_other_ranks();
  void exchange_rows(double *rows, int width, int stride = 0, int offset = 0, bool single = false);
  void return_foreign_sums(double *sums, int width, bool single = false);
  static int wire_slots(int width, bool single);
  void put_row(double *out, const double *row, int width, bool single);
  torch::Tensor exchange(const torch::Tensor &rows);
  torch::Tensor torch_inference();
  const double *fused_inference();
  void check_kernel(const double *fused);
  void check_and_apply(const double *change, int stride);
  void check_other_fixes();
  void kick();
  void kinetic_sums(double *sums);
  void rescale_to_energy();
};

}    // namespace LAMMPS_NS

#endif
#endif
