/* One inference of the model on fix ogn's graph (ogn_inference.h). */
#include "ogn_inference.h"

#include "ogn_error.h"

#include "fmt/format.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace ogn {

namespace {
std::string last_line(const std::string &text)
{
  size_t end = text.find_last_not_of(" \n");
  if (end == std::string::npos) return text;
  const size_t begin = text.rfind('\n', end);
  return text.substr(begin == std::string::npos ? 0 : begin + 1, end + 1 - (begin == std::string::npos ? 0 : begin + 1));
}
}    // namespace

Inference::Inference(ModelFile &model, const torch::Device &device, torch::ScalarType dtype,
                     std::unique_ptr<ImpulseKernel> kernel, bool newton, Graph &graph, Exchange &exchange,
                     Timing &timing, MPI_Comm world) :
    model(model), device_(device), dtype(dtype), fused(std::move(kernel)), graph(graph), exchange(exchange),
    timing(timing), world(world), newton(newton)
{
  MPI_Comm_size(world, &nprocs);
}

const double *Inference::run(const Atoms &atoms, const double *v, int &stride)
{
  try {
    return infer(atoms, v, stride);
  } catch (const Error &) {
    throw;
  } catch (const c10::Error &e) {
    // torch's own errors (a model that does not fit its metadata): a TorchScript traceback,
    // and C++ frames unless left out; the cause is its last line
    throw Error("model " + model.path + " failed in its inference: " + last_line(e.what_without_backtrace()), false);
  } catch (const std::exception &e) {
    throw Error("model " + model.path + " failed in its inference: " + last_line(e.what()), false);
  }
}

const double *Inference::infer(const Atoms &atoms, const double *v, int &stride)
{
  const int nlocal = atoms.nlocal;
  // node inputs (node types are set per list build): the velocities of local atoms; on several
  // ranks the rows of foreign ghosts come from their owners in the first exchange
  velocities.assign((size_t) graph.nodes(nlocal) * 3, 0.0);
  memcpy(velocities.data(), v, (size_t) nlocal * 3 * sizeof(double));
  exchange.set_nodes(nlocal, atoms.nghost, graph.nforeign, graph.node_atom.data());
  timing.inferences++;
  if (fused) {
    const double *result = fused_inference(atoms);
    if (!kernel_checked) check_kernel(atoms, result);
    stride = 9;
    return result;
  }
  change = torch_inference(atoms);
  stride = 6;
  return change.data_ptr<double>();
}

/* ----------------------------------------------------------------------
   the angular moments' sums of this rank, completed by the owners, then sent to the ghosts
------------------------------------------------------------------------- */

void Inference::completed_moments(double *moments, int width)
{
  if (nprocs == 1) return;
  if (newton) exchange.return_sums(moments, width, true);
  exchange.rows(moments, width, 0, 0, true);
}

/* ----------------------------------------------------------------------
   the structured OGN's stages in the fused kernel: rows [v, dr, dv] per node; returns a
   pointer to the local rows' [dr, dv] with a stride of 9
------------------------------------------------------------------------- */

const double *Inference::fused_inference(const Atoms &atoms)
{
  const int nnodes = graph.nodes(atoms.nlocal);
  double start = walltime();
  graph.pairs(atoms, *fused);
  timing.edges += 2 * (int64_t) graph.pair_src32.size();    // as ordered pairs, like the torch graph
  double now = walltime();
  timing.graph += now - start;
  start = now;

  const int mw = fused->moment_width();
  auto moment_sums = [&](const double *rows) {
    return fused->moment_sums(nnodes, graph.pair_src32.data(), graph.pair_dst32.data(), graph.pair_vec.data(),
                              (int64_t) graph.pair_src32.size(), graph.self_src32.data(), graph.self_vec.data(),
                              (int64_t) graph.self_src32.size(), rows);
  };
  if (mw > 0) {
    completed_moments(moment_sums(nullptr), mw);
    fused->use_moments(nnodes);
  }
  rows_in.resize((size_t) nnodes * 9);
  rows_out.resize((size_t) nnodes * 9);
  double *in = velocities.data();
  for (int s = 0; s < fused->stages(); s++) {
    // stage 0 takes the velocities; a later stage's rows [v, dr, dv] of foreign nodes hold the
    // right v since stage 0, so only [dr, dv] travel
    if (nprocs > 1) {
      if (s == 0) exchange.rows(in, 3);
      else exchange.rows(in, 6, 9, 3);
    }
    if (s > 0 && fused->end_moments()) {
      // the moments at the end of the step the stage before predicted
      completed_moments(moment_sums(in), mw);
      fused->use_moments(nnodes, true);
    }
    double *sums = fused->pair_sums(s, nnodes, graph.node_types.data(), in, graph.pair_src32.data(),
                                    graph.pair_dst32.data(), graph.pair_vec.data(), (int64_t) graph.pair_src32.size());
    if (nprocs > 1 && newton) exchange.return_sums(sums, 6);
    fused->update(s, nnodes, graph.node_types.data(), in, sums, rows_out.data());
    rows_in.swap(rows_out);
    in = rows_in.data();
  }
  timing.model += walltime() - start;
  return in + 3;
}

/* ----------------------------------------------------------------------
   the model's TorchScript forward() (one rank) or its program of stages (several);
   returns [dr, dv] of the local atoms, (nlocal, 6) in float64 on the CPU
------------------------------------------------------------------------- */

torch::Tensor Inference::torch_inference(const Atoms &atoms)
{
  const int nlocal = atoms.nlocal, nnodes = graph.nodes(nlocal);
  double start = walltime();
  torch::Tensor edge_vectors;
  auto edge_index = graph.edges(atoms, edge_vectors);
  timing.edges += edge_index.size(1);
  double now = walltime();
  timing.graph += now - start;
  start = now;
  auto to_device = [&](const torch::Tensor &t) { return t.to(device_); };

  auto types_t = to_device(torch::from_blob(graph.node_types.data(), {nnodes}, torch::kInt64));
  auto velocities_t = to_device(torch::from_blob(velocities.data(), {nnodes, 3}, torch::kFloat64));
  edge_vectors = to_device(edge_vectors);
  edge_index = to_device(edge_index);
  torch::Tensor result;
  if (nprocs == 1) {
    // one rank: every ghost is an image of a local atom, so the graph is the periodic graph
    // of the Python rollout and the same exported forward() computes the step
    result = model.module.forward({types_t, velocities_t, edge_index, edge_vectors}).toTensor();
  } else {
    // the program of metadata.json: exchange the declared rows, run the stage, repeat
    auto nodes = velocities_t;
    auto edges = torch::zeros({0}, velocities_t.options().dtype(dtype));
    for (int s = 0; s < model.stages(); s++) {
      if (nodes.size(1) != model.exchange_widths[s])
        throw Error("model " + model.path + " gave node rows of width " + std::to_string(nodes.size(1)) +
                        " before stage " + std::to_string(s) + ", its metadata declares " +
                        std::to_string(model.exchange_widths[s]),
                    false);
      nodes = exchange_tensor(nodes, nlocal);
      auto out = model.module.run_method("stage", s, types_t, nodes, edges, edge_index, edge_vectors).toTuple();
      nodes = out->elements()[0].toTensor();
      edges = out->elements()[1].toTensor();
    }
    result = model.module.run_method("finish", nodes.narrow(0, 0, nlocal)).toTensor();
  }
  if (result.dim() != 2 || result.size(0) < nlocal || result.size(1) != 6)
    throw Error("model " + model.path + " returned [dr, dv] of shape " + c10::str(result.sizes()) +
                    ", expected (" + std::to_string(nlocal) + ", 6) or more rows",
                false);
  result = result.narrow(0, 0, nlocal).to(torch::kCPU, torch::kFloat64).contiguous();
  timing.model += walltime() - start;
  return result;
}

/* the torch path's node rows through the exchange, in float64 on the CPU and back */
torch::Tensor Inference::exchange_tensor(const torch::Tensor &rows, int nlocal)
{
  const int nnodes = graph.nodes(nlocal), width = (int) rows.size(1);
  exchanged.resize((size_t) nnodes * width);
  auto table = torch::from_blob(exchanged.data(), {nnodes, width}, torch::kFloat64);
  table.narrow(0, 0, nlocal).copy_(rows.narrow(0, 0, nlocal));
  exchange.rows(exchanged.data(), width);
  return table.to(rows.device(), rows.scalar_type(), false, true);
}

/* ----------------------------------------------------------------------
   the fused kernel against the model's own forward() on the same state, once per fix:
   they must agree to float32 rounding (the timings leave this inference out)
------------------------------------------------------------------------- */

void Inference::check_kernel(const Atoms &atoms, const double *fused_change)
{
  const Timing saved = timing;
  auto reference = torch_inference(atoms);
  timing = saved;

  const double *ref = reference.data_ptr<double>();
  double local[4] = {0.0, 0.0, 0.0, 0.0}, most[4];    // largest |difference| and |change|, dr then dv
  for (int i = 0; i < atoms.nlocal; i++)
    for (int m = 0; m < 6; m++) {
      const int part = m < 3 ? 0 : 2;
      local[part] = std::fmax(local[part], std::fabs(fused_change[9 * (size_t) i + m] - ref[6 * (size_t) i + m]));
      local[part + 1] = std::fmax(local[part + 1], std::fabs(ref[6 * (size_t) i + m]));
    }
  MPI_Allreduce(local, most, 4, MPI_DOUBLE, MPI_MAX, world);
  const double dr = most[0] / std::fmax(most[1], 1e-300), dv = most[2] / std::fmax(most[3], 1e-300);
  constexpr double TOLERANCE = 1e-4;
  if (!(dr <= TOLERANCE && dv <= TOLERANCE))
    throw Error(fmt::format("the fused kernel and the TorchScript forward() of model {} differ by {:.3g} (dr) and "
                            "{:.3g} (dv) of the largest change on the first inference, expected below {:.0e}; run "
                            "with kernel torch",
                            model.path, dr, dv, TOLERANCE));
  // the torch path's graph is not needed again
  graph.drop_ordered();
  std::vector<double>().swap(exchanged);
  check = {dr, dv};
  kernel_checked = true;
}

std::vector<double> Inference::take_check()
{
  std::vector<double> taken;
  taken.swap(check);
  return taken;
}

double Inference::memory_bytes() const
{
  double bytes = (double) (rows_in.capacity() + rows_out.capacity() + exchanged.capacity() + velocities.capacity()) *
      sizeof(double);
  if (fused) bytes += fused->memory_bytes();
  return bytes;
}

}    // namespace ogn
