/* One inference of the model on fix ogn's graph: [dr, dv] of every local atom for k MD steps.

   On one rank the model's TorchScript forward(), as the Python rollout calls it. On several
   ranks its program of stages, as its metadata declares: before each stage the node rows of
   the foreign nodes are refreshed from their owners (ogn_exchange.h), so the ghost cutoff
   stays r_c for any number of stages and a new architecture needs no change here. The
   structured OGN on a CPU runs in the fused kernel instead (impulse_kernel.h), checked against
   forward() on its first inference. */
#ifndef OGN_INFERENCE_H
#define OGN_INFERENCE_H

#include "impulse_kernel.h"
#include "ogn_exchange.h"
#include "ogn_graph.h"
#include "ogn_model.h"
#include "ogn_timing.h"

#include <mpi.h>

#include <memory>
#include <vector>

namespace ogn {

class Inference {
 public:
  // model: on `device` in `dtype`; kernel: null for the TorchScript path; newton: the fused
  // kernel's foreign pairs computed once and their shares returned (ogn_graph.h)
  Inference(ModelFile &model, const torch::Device &device, torch::ScalarType dtype,
            std::unique_ptr<ImpulseKernel> kernel, bool newton, Graph &graph, Exchange &exchange, Timing &timing,
            MPI_Comm world);

  const ImpulseKernel *kernel() const { return fused.get(); }
  const torch::Device &device() const { return device_; }
  // whether the fused kernel has been checked against forward() (map the graph accordingly)
  bool checked() const { return kernel_checked; }

  // [dr, dv] of the local atoms, a row of `stride` doubles per atom, for velocities v of the
  // nlocal local atoms; throws ogn::Error. The graph must be mapped for the current list.
  const double *run(const Atoms &atoms, const double *v, int &stride);

  // the fused kernel's check, once: its largest differences (dr, dv) from forward(), relative
  // to the largest change; empty before it and after take_check()
  std::vector<double> take_check();

  double memory_bytes() const;

 private:
  ModelFile &model;
  torch::Device device_;
  torch::ScalarType dtype;
  std::unique_ptr<ImpulseKernel> fused;
  Graph &graph;
  Exchange &exchange;
  Timing &timing;
  MPI_Comm world;
  bool newton;
  int nprocs = 1;
  bool kernel_checked = false;
  std::vector<double> check;

  std::vector<double> velocities;     // node inputs: local rows from the deck, foreign by exchange
  std::vector<double> rows_in, rows_out, exchanged;    // node rows [v, dr, dv] / of the torch stages
  torch::Tensor change;               // the torch path's result, until the next inference

  const double *infer(const Atoms &atoms, const double *v, int &stride);
  torch::Tensor torch_inference(const Atoms &atoms);
  const double *fused_inference(const Atoms &atoms);
  void completed_moments(double *moments, int width);
  torch::Tensor exchange_tensor(const torch::Tensor &rows, int nlocal);
  void check_kernel(const Atoms &atoms, const double *fused_change);
};

}    // namespace ogn

#endif
