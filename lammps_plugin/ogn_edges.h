// Neighbour-list-to-edge conversion on a CUDA device (ogn_edges.cu). Plain pointers only, so
// that nvcc never has to parse the torch headers.
#ifndef OGN_EDGES_H
#define OGN_EDGES_H

#include <cstdint>

// For each candidate pair c (atoms pair_i[c], pair_j[c] from the LAMMPS neighbour list),
// vectors[c] = x[j] - x[i] and keep[c] = |x[j] - x[i]| < cutoff. x is (nall, 3) row-major;
// every pointer is device memory. Returns 0, or the cudaError_t of the launch.
int ogn_pair_vectors_cuda(const double *x, const int32_t *pair_i, const int32_t *pair_j, int64_t npairs,
                          double cutoff, double *vectors, bool *keep);

#endif
