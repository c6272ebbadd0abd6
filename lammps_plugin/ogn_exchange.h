/* Node rows between MPI ranks, for a model run stage by stage on several ranks: before a
   stage, the rows (velocities, embeddings, a stage's prediction) of the foreign nodes (ghosts
   owned by other ranks) are refreshed from their owners (LAMMPS forward communication); with
   the fused kernel and newton on, the pair sums of foreign nodes go back to their owners
   (reverse communication), which add them to their own.

   The wire format: a row of `width` doubles, or of `width` float32 two to a double slot
   (`single`: the angular moments, which the kernel reads in float32 anyway; 90% of the bytes).
   LAMMPS calls the fix's pack/unpack hooks, which call the ones here. No torch, no LAMMPS class. */
#ifndef OGN_EXCHANGE_H
#define OGN_EXCHANGE_H

#include "ogn_timing.h"

#include <mpi.h>

#include <functional>
#include <vector>

namespace ogn {

class Exchange {
 public:
  // comm->forward_comm(fix, slots) and comm->reverse_comm(fix, slots) of the calling fix
  using Transfer = std::function<void(int slots)>;
  Exchange(MPI_Comm world, Transfer forward, Transfer reverse, Timing &timing) :
      world(world), forward(std::move(forward)), reverse(std::move(reverse)), timing(timing)
  {
  }

  // the nodes of the current graph: nlocal local atoms, then nforeign foreign nodes, the
  // ghost atoms node_atom[nlocal ...] (valid until the next call)
  void set_nodes(int nlocal, int nghost, int nforeign, const int *node_atom);

  // rows: nlocal + nforeign rows of `stride` doubles (default `width`) with the local rows
  // set; columns [offset, offset + width) of the foreign nodes are refreshed from their owners
  void rows(double *rows, int width, int stride = 0, int offset = 0, bool single = false);
  // sums: `width` per node; those of foreign nodes are added to their owners' own sums
  void return_sums(double *sums, int width, bool single = false);

  static int wire_slots(int width, bool single) { return single ? (width + 1) / 2 : width; }

  // the fix's pack_forward_comm, unpack_forward_comm, pack_reverse_comm, unpack_reverse_comm
  int pack_forward(int n, const int *send, double *buf);
  void unpack_forward(int n, int first, const double *buf);
  int pack_reverse(int n, int first, double *buf);
  void unpack_reverse(int n, const int *list, const double *buf);

  double memory_bytes() const { return (double) (comm_rows.capacity() + returned.capacity()) * sizeof(double); }

 private:
  MPI_Comm world;
  Transfer forward, reverse;
  Timing &timing;
  int nlocal = 0, nghost = 0, nforeign = 0;
  const int *node_atom = nullptr;

  // forward: local rows are packed from where they lie (src, rows of `stride` doubles, the
  // columns from `offset` on); ghosts' rows arrive in comm_rows, in wire form (silicon on two
  // ranks at 10 240 atoms: 3 933 bytes per atom, 5 034 when every row was copied first)
  std::vector<double> comm_rows;
  const double *src = nullptr;
  int width = 0, stride = 0, offset = 0;
  bool single = false;
  // reverse: ghosts' shares in `returned`, added by their owners straight into `sums_dst`
  std::vector<double> returned;
  double *sums_dst = nullptr;
  int reverse_width = 6;
  bool reverse_single = false;
  std::vector<float> wire;

  // every exchange waits for the slowest rank anyway; a barrier first separates that wait
  // (load imbalance, a busy core) from the transfer itself in the report (one more
  // synchronization, microseconds on one node)
  void wait_for_other_ranks();
  void put_row(double *out, const double *row, int width, bool single);
};

}    // namespace ogn

#endif
