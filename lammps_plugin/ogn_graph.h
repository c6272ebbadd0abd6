/* The model's graph from a LAMMPS full neighbour list (paper Methods 4.2: edges within r_c).

   Nodes: local atoms first, then ghost atoms owned by another rank. A ghost that is a
   periodic image of a local atom is that atom's node (node_of), as in a periodic graph; on one
   rank every ghost is such an image, and the graph is the Python rollout's.

   Once per neighbour-list build, map() turns the list's rows into candidate pairs; every
   inference, edges() (TorchScript path) or pairs() (fused kernel) keeps the candidates within
   the cutoff at the current positions. Plain arrays in, plain arrays out: no LAMMPS class. */
#ifndef OGN_GRAPH_H
#define OGN_GRAPH_H

#include "lmptype.h"
#include "ogn_domain.h"

#include <torch/script.h>

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace ogn {

class ImpulseKernel;

// the atoms as LAMMPS holds them: nlocal local atoms, then nghost ghosts
struct Atoms {
  int nlocal = 0, nghost = 0;
  double *const *x = nullptr;
  const LAMMPS_NS::tagint *tag = nullptr;
  const int *type = nullptr;
};

// the rows of a LAMMPS full neighbour list (NeighList's inum, ilist, numneigh, firstneigh)
struct NeighbourRows {
  int inum = 0;
  const int *ilist = nullptr, *numneigh = nullptr;
  int *const *firstneigh = nullptr;
};

class Graph {
 public:
  explicit Graph(double cutoff) : cutoff(cutoff) {}

  // once per list build. `ordered`: each ordered candidate (i, j) in node order, as the
  // TorchScript path needs (and the fused kernel's check against it). `kernel`: also each
  // unordered pair once for the fused kernel, on its threads when not `ordered`. A pair with a
  // foreign atom is then computed by the rank of the smaller atom id, which returns the foreign
  // atom's share to its owner (newton on), or by both ranks, each keeping its own atom's share
  // (newton off: a few % more pairs, no reverse communication). `device`: where the ordered
  // candidates are uploaded for the CUDA edge kernel.
  void map(const Atoms &atoms, const NeighbourRows &rows, bool ordered, const ImpulseKernel *kernel, bool newton,
           const torch::Device &device);

  // the TorchScript path: edge_index (2, E) int64 and edge_vectors (E, 3) float64 of edges
  // (i, j) with |x_j - x_i| < cutoff for every local i, plus the reverse edge when j is a ghost
  // owned by another rank (its owner builds the same pair from its side). On the CPU the
  // tensors view this graph's buffers until the next call.
  torch::Tensor edges(const Atoms &atoms, torch::Tensor &edge_vectors);

  // the fused kernel: each unordered candidate within the cutoff once, as (node i, node j)
  // and r_j - r_i in float32 (pair_*), and an atom's pairs with its own images (self_*)
  void pairs(const Atoms &atoms, const ImpulseKernel &kernel);

  // the closest pair of the last edges() or pairs() relative to min_distance (n_types x n_types,
  // 0: unchecked), on this rank; none on a CUDA device
  Closest closest(const std::vector<double> &min_distance, int n_types) const;

  // the ordered candidates are not needed again once the fused kernel is checked
  void drop_ordered();

  int nodes(int nlocal) const { return nlocal + nforeign; }
  double memory_bytes() const;

  const double cutoff;
  // node of every atom (local and ghost, -1 before map), atom of every node
  std::vector<int> node_of, node_atom;
  std::vector<int64_t> node_types;
  int nforeign = 0;    // nodes that are other ranks' atoms

  // the fused kernel's pairs, valid after pairs()
  std::vector<int32_t> pair_src32, pair_dst32, self_src32;
  std::vector<float> pair_vec, self_vec;

 private:
  std::unordered_map<LAMMPS_NS::tagint, int> local_of_tag;
  // candidates from the list: ordered (cand_*), unordered for the kernel (half_*), and
  // pairs of an atom and its own image (self_*: their impulses cancel, but they count in
  // its angular moments)
  std::vector<int32_t> cand_i, cand_j, half_i, half_j, self_i, self_j;
  // the TorchScript path's graph
  std::vector<int64_t> src, dst, rsrc, rdst;
  std::vector<double> vec, rvec;
  // the ordered candidates on a CUDA device, uploaded once per list build
  torch::Tensor pair_i, pair_j, pair_src, pair_dst;
  bool on_cuda = false;
  bool last_fused = false;    // which of edges() and pairs() ran last

  void ordered_pairs(const Atoms &atoms, const NeighbourRows &rows, bool kernel, bool newton);
  void unique_pairs(const Atoms &atoms, const NeighbourRows &rows, const ImpulseKernel &kernel, bool newton);
};

}    // namespace ogn

#endif
