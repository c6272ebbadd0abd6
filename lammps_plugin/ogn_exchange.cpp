/* Node rows between MPI ranks (ogn_exchange.h). */
#include "ogn_exchange.h"

#include <cstring>

namespace ogn {

void Exchange::set_nodes(int nlocal_, int nghost_, int nforeign_, const int *node_atom_)
{
  nlocal = nlocal_, nghost = nghost_, nforeign = nforeign_, node_atom = node_atom_;
}

void Exchange::wait_for_other_ranks()
{
  const double start = walltime();
  MPI_Barrier(world);
  timing.wait += walltime() - start;
}

void Exchange::rows(double *rows, int width_, int stride_, int offset_, bool single_)
{
  if (stride_ <= 0) stride_ = width_;
  width = width_, stride = stride_, offset = offset_, src = rows, single = single_;
  const int slots = wire_slots(width, single);
  if (comm_rows.size() < (size_t) nghost * slots) comm_rows.resize((size_t) nghost * slots);
  const double start = walltime();
  wait_for_other_ranks();
  forward(slots);
  timing.comm += walltime() - start;
  for (int n = nlocal; n < nlocal + nforeign; n++) {
    const double *from = &comm_rows[(size_t) (node_atom[n] - nlocal) * slots];
    double *to = rows + (size_t) n * stride + offset;
    if (single) {
      wire.resize(width);
      memcpy(wire.data(), from, width * sizeof(float));
      for (int c = 0; c < width; c++) to[c] = wire[c];
    } else {
      memcpy(to, from, width * sizeof(double));
    }
  }
}

void Exchange::return_sums(double *sums, int width_, bool single_)
{
  const double start = walltime();
  wait_for_other_ranks();
  reverse_width = width_, sums_dst = sums, reverse_single = single_;
  returned.assign((size_t) nghost * reverse_width, 0.0);
  for (int n = nlocal; n < nlocal + nforeign; n++)
    memcpy(&returned[(size_t) (node_atom[n] - nlocal) * reverse_width], sums + (size_t) n * reverse_width,
           reverse_width * sizeof(double));
  reverse(wire_slots(reverse_width, reverse_single));
  timing.comm += walltime() - start;
}

/* one row of `width` doubles onto the wire (`slots` doubles), as float32 when `single` */
void Exchange::put_row(double *out, const double *row, int w, bool as_float)
{
  if (!as_float) {
    memcpy(out, row, w * sizeof(double));
    return;
  }
  wire.assign(2 * wire_slots(w, true), 0.0f);
  for (int c = 0; c < w; c++) wire[c] = (float) row[c];
  memcpy(out, wire.data(), wire.size() * sizeof(float));
}

int Exchange::pack_forward(int n, const int *send, double *buf)
{
  // a swap sends local atoms, or ghosts received in an earlier swap (the corners), whose rows
  // are already in wire form
  const int slots = wire_slots(width, single);
  for (int m = 0; m < n; m++) {
    const int j = send[m];
    if (j < nlocal)
      put_row(buf + (size_t) m * slots, src + (size_t) j * stride + offset, width, single);
    else
      memcpy(buf + (size_t) m * slots, &comm_rows[(size_t) (j - nlocal) * slots], slots * sizeof(double));
  }
  return n * slots;
}

void Exchange::unpack_forward(int n, int first, const double *buf)
{
  const int slots = wire_slots(width, single);
  memcpy(&comm_rows[(size_t) (first - nlocal) * slots], buf, (size_t) n * slots * sizeof(double));
}

int Exchange::pack_reverse(int n, int first, double *buf)
{
  // `first` is a ghost: reverse communication sends what ghosts hold back to their owners
  const size_t w = reverse_width, slots = wire_slots(reverse_width, reverse_single);
  const size_t base = (size_t) (first - nlocal) * w;
  for (int m = 0; m < n; m++) put_row(buf + m * slots, &returned[base + m * w], w, reverse_single);
  return n * slots;
}

void Exchange::unpack_reverse(int n, const int *list, const double *buf)
{
  // a local atom adds to its own sums; a ghost (a corner image, passed on by a later swap)
  // keeps the share until its own swap sends it
  const size_t w = reverse_width, slots = wire_slots(reverse_width, reverse_single);
  if (reverse_single) wire.resize(2 * slots);
  for (int m = 0; m < n; m++) {
    const int j = list[m];
    double *to = j < nlocal ? sums_dst + (size_t) j * w : &returned[(size_t) (j - nlocal) * w];
    if (reverse_single) {
      memcpy(wire.data(), buf + m * slots, w * sizeof(float));
      for (size_t c = 0; c < w; c++) to[c] += wire[c];
    } else {
      for (size_t c = 0; c < w; c++) to[c] += buf[w * m + c];
    }
  }
}

}    // namespace ogn
