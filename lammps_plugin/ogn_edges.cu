#include "ogn_edges.h"

#include <cuda_runtime.h>

namespace {

__global__ void pair_vectors(const double *__restrict__ x, const int32_t *__restrict__ pair_i,
                             const int32_t *__restrict__ pair_j, int64_t npairs, double cutsq,
                             double *__restrict__ vectors, bool *__restrict__ keep)
{
  const int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (c >= npairs) return;
  const int64_t i = pair_i[c], j = pair_j[c];
  // ghost coordinates already carry the periodic image shift, so no minimum image here
  const double dx = x[3 * j] - x[3 * i];
  const double dy = x[3 * j + 1] - x[3 * i + 1];
  const double dz = x[3 * j + 2] - x[3 * i + 2];
  vectors[3 * c] = dx;
  vectors[3 * c + 1] = dy;
  vectors[3 * c + 2] = dz;
  keep[c] = dx * dx + dy * dy + dz * dz < cutsq;
}

}    // namespace

int ogn_pair_vectors_cuda(const double *x, const int32_t *pair_i, const int32_t *pair_j, int64_t npairs,
                          double cutoff, double *vectors, bool *keep)
{
  if (npairs == 0) return 0;
  const int threads = 256;
  const int64_t blocks = (npairs + threads - 1) / threads;
  // the legacy default stream, which torch's CUDA ops also use unless told otherwise
  pair_vectors<<<static_cast<unsigned int>(blocks), threads>>>(x, pair_i, pair_j, npairs, cutoff * cutoff,
                                                               vectors, keep);
  return static_cast<int>(cudaGetLastError());
}
