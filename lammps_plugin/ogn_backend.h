/* Where and how fix ogn runs the model: the device (design §6) and, for the structured OGN on
   a CPU in float32, the fused kernel (impulse_kernel.h) instead of the TorchScript forward(). */
#ifndef OGN_BACKEND_H
#define OGN_BACKEND_H

#include "impulse_kernel.h"
#include "ogn_model.h"

#include <mpi.h>

#include <memory>
#include <string>

namespace ogn {

// request auto|cpu|cuda. auto: the node-local MPI rank modulo the visible GPUs, else the CPU.
// Throws ogn::Error when cuda is requested and cannot be had; `note` gets a line for the log.
torch::Device select_device(const std::string &request, MPI_Comm world, std::string &note);

// request auto|fused|torch. Returns the fused kernel for `model`, or null with the reason in
// `why_not` ("kernel torch" when asked for); throws ogn::Error when fused is requested and
// cannot be had.
std::unique_ptr<ImpulseKernel> select_kernel(const std::string &request, const ModelFile &model,
                                             const torch::Device &device, torch::ScalarType dtype,
                                             std::string &why_not);

}    // namespace ogn

#endif
