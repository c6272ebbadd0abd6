/* The model's graph from a LAMMPS neighbour list (ogn_graph.h). */
#include "ogn_graph.h"

#include "impulse_kernel.h"

#ifdef OGN_HAVE_CUDA
#include "ogn_edges.h"
#include "ogn_error.h"
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

namespace ogn {

void Graph::map(const Atoms &atoms, const NeighbourRows &rows, bool ordered, const ImpulseKernel *kernel,
                bool newton, const torch::Device &device)
{
  const int nlocal = atoms.nlocal, nall = nlocal + atoms.nghost;
  local_of_tag.clear();
  for (int i = 0; i < nlocal; i++) local_of_tag[atoms.tag[i]] = i;
  node_of.assign(nall, -1);
  node_atom.resize(nlocal);
  for (int i = 0; i < nlocal; i++) node_of[i] = node_atom[i] = i;
  cand_i.clear(), cand_j.clear(), half_i.clear(), half_j.clear(), self_i.clear(), self_j.clear();
  if (ordered || !kernel)
    ordered_pairs(atoms, rows, kernel != nullptr, newton);
  else
    // the checked kernel's pairs need no order (its sums are in double): on its threads
    unique_pairs(atoms, rows, *kernel, newton);
  nforeign = (int) node_atom.size() - nlocal;
  node_types.resize(node_atom.size());
  for (size_t n = 0; n < node_atom.size(); n++) node_types[n] = atoms.type[node_atom[n]];

  on_cuda = device.is_cuda();
  if (on_cuda) {
    // the candidate pairs live on the device until the next build; only x is sent per step
    std::vector<int64_t> to(cand_j.size());
    for (size_t c = 0; c < cand_j.size(); c++) to[c] = node_of[cand_j[c]];
    auto upload = [&](auto &v, torch::ScalarType t) {
      return torch::from_blob(v.data(), {(int64_t) v.size()}, t).to(device);
    };
    pair_i = upload(cand_i, torch::kInt32);
    pair_j = upload(cand_j, torch::kInt32);
    pair_src = pair_i.to(torch::kInt64);
    pair_dst = upload(to, torch::kInt64);
  }
}

/* ----------------------------------------------------------------------
   candidate pairs (i, j) of the list, each row sorted by node: edges then reach the node
   table in order, as in the Python rollout's sorted graph; with `kernel` also the unordered
   pairs and own images
------------------------------------------------------------------------- */

void Graph::ordered_pairs(const Atoms &atoms, const NeighbourRows &rows, bool kernel, bool newton)
{
  const int nlocal = atoms.nlocal;
  const LAMMPS_NS::tagint *tag = atoms.tag;
  std::vector<std::pair<int, int>> row;
  for (int ii = 0; ii < rows.inum; ii++) {
    const int i = rows.ilist[ii];
    row.clear();
    for (int jj = 0; jj < rows.numneigh[i]; jj++) {
      const int j = rows.firstneigh[i][jj] & NEIGHMASK;
      if (node_of[j] < 0) {
        auto owner = local_of_tag.find(tag[j]);
        if (owner != local_of_tag.end()) {
          node_of[j] = owner->second;
        } else {
          node_of[j] = (int) node_atom.size();
          node_atom.push_back(j);
        }
      }
      row.emplace_back(node_of[j], j);
    }
    std::sort(row.begin(), row.end());
    for (const auto &pair : row) {
      cand_i.push_back(i), cand_j.push_back(pair.second);
      const bool once = pair.first < nlocal ? i < pair.first : !newton || tag[i] < tag[pair.second];
      if (kernel && once) half_i.push_back(i), half_j.push_back(pair.second);
      if (kernel && pair.first == i) self_i.push_back(i), self_j.push_back(pair.second);
    }
  }
}

/* ----------------------------------------------------------------------
   map() once the fused kernel is checked: its unordered pairs and an atom's own images, from
   the rows of the list on the kernel's threads (silicon, 10 240 atoms: 4.5 ms per list build
   on one). The same pairs in the list's order, and the same node numbers, as ordered_pairs()
   gives without its sort: each thread counts, then writes, the pairs of a contiguous share of
   the rows.
------------------------------------------------------------------------- */

void Graph::unique_pairs(const Atoms &atoms, const NeighbourRows &rows, const ImpulseKernel &kernel, bool newton)
{
  const int nlocal = atoms.nlocal, nghost = atoms.nghost;
  const LAMMPS_NS::tagint *tag = atoms.tag;
  // ghosts that are images of local atoms: those atoms' nodes (the tag map is only read here)
  kernel.run_shares(nghost, 4096, [&](int, int64_t begin, int64_t end) {
    for (int j = nlocal + (int) begin; j < nlocal + (int) end; j++) {
      auto owner = local_of_tag.find(tag[j]);
      if (owner != local_of_tag.end()) node_of[j] = owner->second;
    }
  });
  const int inum = rows.inum, threads = kernel.threads();
  // per share: its pairs and images (counted, then written from where the shares before end),
  // and the ghosts of other ranks it meets
  std::vector<int64_t> npairs(threads, 0), nimages(threads, 0), pairs_at(threads + 1, 0), images_at(threads + 1, 0);
  std::vector<std::vector<int>> foreign(threads);
  auto scan = [&](int t, int64_t begin, int64_t end, bool write) {
    int64_t p = pairs_at[t], m = images_at[t];
    for (int64_t ii = begin; ii < end; ii++) {
      const int i = rows.ilist[ii];
      for (int jj = 0; jj < rows.numneigh[i]; jj++) {
        const int j = rows.firstneigh[i][jj] & NEIGHMASK, node = node_of[j];
        // node < 0: another rank's atom (numbered once the threads are done)
        if (node < 0 && !write) foreign[t].push_back(j);
        if (node >= 0 ? i < node : !newton || tag[i] < tag[j]) {
          if (write) half_i[p] = i, half_j[p] = j;
          p++;
        }
        if (node == i) {
          if (write) self_i[m] = i, self_j[m] = j;
          m++;
        }
      }
    }
    if (!write) npairs[t] = p, nimages[t] = m;    // counted from 0
  };
  const int shares = kernel.run_shares(inum, 1024, [&](int t, int64_t begin, int64_t end) {
    foreign[t].clear();
    scan(t, begin, end, false);
  });
  for (int t = 0; t < shares; t++) pairs_at[t + 1] = pairs_at[t] + npairs[t], images_at[t + 1] = images_at[t] + nimages[t];
  half_i.resize(pairs_at[shares]), half_j.resize(pairs_at[shares]);
  self_i.resize(images_at[shares]), self_j.resize(images_at[shares]);
  // the same shares again (the same n and grain)
  kernel.run_shares(inum, 1024, [&](int t, int64_t begin, int64_t end) { scan(t, begin, end, true); });
  // other ranks' atoms in the order the rows meet them, as ordered_pairs() numbers them
  for (int t = 0; t < shares; t++)
    for (const int j : foreign[t])
      if (node_of[j] < 0) {
        node_of[j] = (int) node_atom.size();
        node_atom.push_back(j);
      }
}

torch::Tensor Graph::edges(const Atoms &atoms, torch::Tensor &edge_vectors)
{
  const int nlocal = atoms.nlocal;
  double *const *x = atoms.x;

#ifdef OGN_HAVE_CUDA
  if (on_cuda) {
    const auto device = pair_i.device();
    auto xs = torch::from_blob(x[0], {nlocal + atoms.nghost, 3}, torch::kFloat64).to(device);
    const int64_t npairs = pair_i.size(0);
    auto vectors = torch::empty({npairs, 3}, xs.options());
    auto keep = torch::empty({npairs}, xs.options().dtype(torch::kBool));
    const int err = ogn_pair_vectors_cuda(xs.data_ptr<double>(), pair_i.data_ptr<int32_t>(),
                                          pair_j.data_ptr<int32_t>(), npairs, cutoff, vectors.data_ptr<double>(),
                                          keep.data_ptr<bool>());
    if (err) throw Error("CUDA edge kernel failed with error code " + std::to_string(err), false);
    auto idx = keep.nonzero().squeeze(1);
    auto s = pair_src.index_select(0, idx), d = pair_dst.index_select(0, idx);
    auto vv = vectors.index_select(0, idx);
    auto foreign = (d >= nlocal).nonzero().squeeze(1);
    edge_vectors = torch::cat({vv, -vv.index_select(0, foreign)});
    return torch::stack({torch::cat({s, d.index_select(0, foreign)}), torch::cat({d, s.index_select(0, foreign)})});
  }
#endif

  last_fused = false;
  const double cutsq = cutoff * cutoff;
  src.clear(), dst.clear(), vec.clear(), rsrc.clear(), rdst.clear(), rvec.clear();
  for (size_t c = 0; c < cand_i.size(); c++) {
    const int i = cand_i[c], j = cand_j[c];
    const double dx = x[j][0] - x[i][0], dy = x[j][1] - x[i][1], dz = x[j][2] - x[i][2];
    if (dx * dx + dy * dy + dz * dz >= cutsq) continue;
    const int node = node_of[j];
    src.push_back(i), dst.push_back(node), vec.insert(vec.end(), {dx, dy, dz});
    if (node >= nlocal) rsrc.push_back(node), rdst.push_back(i), rvec.insert(rvec.end(), {-dx, -dy, -dz});
  }
  const int64_t nedges = (int64_t) (src.size() + rsrc.size());
  src.insert(src.end(), rsrc.begin(), rsrc.end());
  src.insert(src.end(), dst.begin(), dst.end());    // row 1 of edge_index follows row 0
  src.insert(src.end(), rdst.begin(), rdst.end());
  vec.insert(vec.end(), rvec.begin(), rvec.end());
  edge_vectors = torch::from_blob(vec.data(), {nedges, 3}, torch::kFloat64);
  return torch::from_blob(src.data(), {2, nedges}, torch::kInt64);
}

void Graph::pairs(const Atoms &atoms, const ImpulseKernel &kernel)
{
  last_fused = true;
  double *const *x = atoms.x;
  const double cutsq = cutoff * cutoff;
  const int64_t candidates = (int64_t) half_i.size();
  pair_src32.resize(candidates), pair_dst32.resize(candidates), pair_vec.resize(3 * candidates);
  // on the kernel's threads (silicon, two threads: 4% of the step when serial), each over a
  // contiguous share of the candidates, its pairs in order from the start of its share; the
  // shares are then moved together, in order
  std::vector<int64_t> begins(kernel.threads() + 1), kept(kernel.threads());
  const int shares = kernel.run_shares(candidates, 16384, [&](int t, int64_t begin, int64_t end) {
    int64_t m = begin;
    for (int64_t c = begin; c < end; c++) {
      const int i = half_i[c], j = half_j[c];
      const double dx = x[j][0] - x[i][0], dy = x[j][1] - x[i][1], dz = x[j][2] - x[i][2];
      if (dx * dx + dy * dy + dz * dz >= cutsq) continue;
      pair_src32[m] = i, pair_dst32[m] = node_of[j];
      pair_vec[3 * m] = (float) dx, pair_vec[3 * m + 1] = (float) dy, pair_vec[3 * m + 2] = (float) dz;
      m++;
    }
    begins[t] = begin, kept[t] = m - begin;
  });
  int64_t npairs = kept[0];
  for (int t = 1; t < shares; t++) {
    std::memmove(&pair_src32[npairs], &pair_src32[begins[t]], kept[t] * sizeof(int32_t));
    std::memmove(&pair_dst32[npairs], &pair_dst32[begins[t]], kept[t] * sizeof(int32_t));
    std::memmove(&pair_vec[3 * npairs], &pair_vec[3 * begins[t]], 3 * kept[t] * sizeof(float));
    npairs += kept[t];
  }
  pair_src32.resize(npairs), pair_dst32.resize(npairs), pair_vec.resize(3 * npairs);
  self_src32.clear(), self_vec.clear();
  for (size_t c = 0; c < self_i.size(); c++) {
    const int i = self_i[c], j = self_j[c];
    const double dx = x[j][0] - x[i][0], dy = x[j][1] - x[i][1], dz = x[j][2] - x[i][2];
    if (dx * dx + dy * dy + dz * dz >= cutsq) continue;
    self_src32.push_back(i);
    self_vec.insert(self_vec.end(), {(float) dx, (float) dy, (float) dz});
  }
}

Closest Graph::closest(const std::vector<double> &min_distance, int n_types) const
{
  Closest best;
  if (on_cuda || min_distance.empty()) return best;
  // squared ratios, one square root at the end (a pass over the pairs every inference)
  std::vector<double> inv2(min_distance.size(), 0.0);
  for (size_t c = 0; c < min_distance.size(); c++)
    if (min_distance[c] > 0) inv2[c] = 1.0 / (min_distance[c] * min_distance[c]);
  double best2 = 1e300, best_d2 = 0;
  int64_t best_a = -1, best_b = -1;
  auto consider = [&](int64_t a, int64_t b, double d2) {
    const double w = inv2[(node_types[a] - 1) * n_types + (node_types[b] - 1)];
    if (w > 0 && d2 * w < best2) best2 = d2 * w, best_d2 = d2, best_a = a, best_b = b;
  };
  if (last_fused) {
    for (size_t p = 0; p < pair_src32.size(); p++) {
      const float *r = &pair_vec[3 * p];
      consider(pair_src32[p], pair_dst32[p], (double) r[0] * r[0] + (double) r[1] * r[1] + (double) r[2] * r[2]);
    }
  } else {
    const size_t nedges = vec.size() / 3;    // rows 0 and 1 of edge_index lie in src, one after the other
    for (size_t e = 0; e < nedges; e++)
      consider(src[e], src[nedges + e], vec[3 * e] * vec[3 * e] + vec[3 * e + 1] * vec[3 * e + 1] +
               vec[3 * e + 2] * vec[3 * e + 2]);
  }
  if (best_a >= 0) {
    const int ta = (int) node_types[best_a], tb = (int) node_types[best_b];
    best = {std::sqrt(best2), std::sqrt(best_d2), std::min(ta, tb), std::max(ta, tb)};
  }
  return best;
}

void Graph::drop_ordered()
{
  last_fused = true;    // the kernel's check ran edges() after pairs(): the pairs are current
  for (auto *buffer : {&src, &dst, &rsrc, &rdst}) std::vector<int64_t>().swap(*buffer);
  for (auto *buffer : {&cand_i, &cand_j}) std::vector<int32_t>().swap(*buffer);
  for (auto *buffer : {&vec, &rvec}) std::vector<double>().swap(*buffer);
}

double Graph::memory_bytes() const
{
  double bytes = (double) (src.capacity() + dst.capacity() + rsrc.capacity() + rdst.capacity()) * sizeof(int64_t);
  bytes += (double) (vec.capacity() + rvec.capacity()) * sizeof(double);
  bytes += (double) (node_of.capacity() + node_atom.capacity() + cand_i.capacity() + cand_j.capacity()) * sizeof(int);
  bytes += (double) (half_i.capacity() + half_j.capacity() + pair_src32.capacity() + pair_dst32.capacity()) * 4;
  bytes += (double) (pair_vec.capacity() + self_vec.capacity()) * sizeof(float);
  bytes += (double) (self_i.capacity() + self_j.capacity() + self_src32.capacity()) * 4;
  bytes += (double) node_types.capacity() * 8;
  return bytes;
}

}    // namespace ogn
