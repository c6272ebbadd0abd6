/* fix ogn: a learned integrator (Liu et al., Mater. Horiz. 2023) that advances positions and
   velocities by k MD steps per LAMMPS timestep with an exported OGN TorchScript model. */

#ifdef FIX_CLASS
// clang-format off
FixStyle(ogn,FixOGN);
// clang-format on
#else

#ifndef OGN_FIX_OGN_H
#define OGN_FIX_OGN_H

#include "fix.h"
#include "ogn_timing.h"

#include <memory>
#include <string>
#include <vector>

// the units behind the fix (lammps_plugin/ogn_*.h); only fix_ogn.cpp sees torch
namespace ogn {
struct ModelFile;
class Graph;
class Exchange;
class Inference;
class DomainGuard;
}    // namespace ogn

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
  double compute_vector(int) override;
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
  int k;    // MD steps per inference, checked against the model's
  bool newton_pairs;    // fused kernel, several ranks: a pair with a foreign atom on one rank (on) or both (off)
  // the model and its metadata (ogn_model.h), the graph from our neighbour list (ogn_graph.h),
  // the node rows between ranks (ogn_exchange.h) and the model run on them (ogn_inference.h)
  std::unique_ptr<ogn::ModelFile> model;
  std::unique_ptr<ogn::Graph> graph;
  std::unique_ptr<ogn::Exchange> exchange;
  std::unique_ptr<ogn::Inference> inference;
  ogn::Timing timing;    // over the current run, reported by post_run()
  // the training domain (ogn_domain.h): domain off|warn|error, checked every domain_every
  // inferences; it also gives f_ID[t], the kinetic temperature of type t
  std::unique_ptr<ogn::DomainGuard> guard;
  int domain_mode, domain_every;
  class NeighList *list;
  bigint mapped_at;    // the neighbour list build the graph was mapped from

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

  // f_ID per atom: this rank's own work per local atom and inference (graph and model, not
  // the exchange), in microseconds, a running mean; `fix balance ... weight var` on it
  // gives the slower core fewer atoms (LAMMPS's weight time counts no fix's time)
  double cost_per_atom;
  std::vector<double> cost_atom;
  void set_cost(double work_seconds);

  std::string model_path(const std::string &arg);
  void check_other_fixes();
  double check_and_apply(const double *change, int stride);
  void check_domain(const std::vector<double> &temperature, double displacement);
  void kick();
  void kinetic_sums(double *sums);
  void rescale_to_energy();
};

}    // namespace LAMMPS_NS

#endif
#endif
