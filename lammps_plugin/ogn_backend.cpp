/* Device and kernel selection (ogn_backend.h). */
#include "ogn_backend.h"

#include "ogn_error.h"

#include <torch/cuda.h>

namespace ogn {

torch::Device select_device(const std::string &request, MPI_Comm world, std::string &note)
{
  const bool have_cuda = torch::cuda::is_available();
  if (request == "cuda" && !have_cuda)
    throw Error("device cuda requested, but torch sees no CUDA GPU (" + std::to_string(torch::cuda::device_count()) +
                " visible devices); use device cpu");
  if (request == "cpu" || !have_cuda) return torch::Device(torch::kCPU);
#ifndef OGN_HAVE_CUDA
  if (request == "cuda")
    throw Error("device cuda requested, but the plugin was built without CUDA (OGN_CUDA=OFF)");
  (void) world;
  return torch::Device(torch::kCPU);
#else
  MPI_Comm node;
  int me, node_rank;
  MPI_Comm_rank(world, &me);
  MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, me, MPI_INFO_NULL, &node);
  MPI_Comm_rank(node, &node_rank);
  MPI_Comm_free(&node);
  const int ngpu = (int) torch::cuda::device_count();
  note = std::to_string(ngpu) + " visible GPU(s); rank 0 uses cuda:" + std::to_string(node_rank % ngpu);
  return torch::Device(torch::kCUDA, node_rank % ngpu);
#endif
}

std::unique_ptr<ImpulseKernel> select_kernel(const std::string &request, const ModelFile &model,
                                             const torch::Device &device, torch::ScalarType dtype,
                                             std::string &why_not)
{
  why_not.clear();
  if (request == "torch") {
    why_not = "kernel torch";
    return nullptr;
  }
  std::unique_ptr<ImpulseKernel> kernel;
  if (model.architecture != "impulse")
    why_not = "it is written for architecture impulse, the model is " + model.architecture;
  else if (device.is_cuda())
    why_not = "it runs on the CPU, the model runs on cuda";
  else if (dtype != torch::kFloat32)
    why_not = "it computes in float32, the fix was asked for float64";
  else
    why_not = ImpulseKernel::unsupported_reason();
  if (why_not.empty()) {
    try {
      kernel = std::make_unique<ImpulseKernel>(model.module);
    } catch (const std::exception &e) {
      why_not = "model " + model.path + " cannot run in it: " + e.what();
    }
  }
  if (!why_not.empty() && request == "fused")
    throw Error("kernel fused requested, but " + why_not + "; use kernel torch");
  return kernel;
}

}    // namespace ogn
