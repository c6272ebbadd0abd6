/* The training domain: the ranges of the states the model learned from, as `export` recorded
   them in metadata.json ("domain", optional; margins included), and the guard that tells fix
   ogn when a state leaves them. FlashMD's advice to its users is to watch the per-species
   temperatures and to check findings with normal MD; the guard does the watching.

   Checked on the input of an inference: the kinetic temperature of each type (3 degrees of
   freedom per atom), the number density, the closest pair relative to the closest the data
   had for those two types; and on its output: the largest displacement. No LAMMPS class. */
#ifndef OGN_DOMAIN_H
#define OGN_DOMAIN_H

#include "lmptype.h"

#include <mpi.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace ogn {

struct Domain {
  bool present = false;
  std::vector<std::array<double, 2>> temperature;      // per type (index type - 1)
  std::array<double, 2> density{0, 0};                 // atoms per volume
  std::vector<double> min_distance;                    // n_types x n_types, 0: not recorded
  double max_displacement = 0;                         // per inference, 0: not recorded
};

// the closest pair of an inference's graph: its distance, and its types (1-based), as a
// fraction of the closest the training data had for them (ratio < 1: closer)
struct Closest {
  double ratio = 1e300, distance = 0;
  int type_a = 0, type_b = 0;
};

class DomainGuard {
 public:
  enum Quantity { TEMPERATURE, DENSITY, DISTANCE, DISPLACEMENT, NQUANTITIES };

  DomainGuard(const Domain &domain, int n_types, MPI_Comm world);

  // the kinetic temperature per type of the atoms in `groupbit` (mass per type, 1-based;
  // mvv2e and boltz of the deck's units); collective
  const std::vector<double> &temperatures(int nlocal, double *const *v, const int *type, const int *mask,
                                          int groupbit, const double *mass, double mvv2e, double boltz);

  // this rank's closest pairs are reduced over the ranks here; returns one line for each
  // quantity that has just left the domain (empty inside it). Collective.
  std::vector<std::string> check(const std::vector<double> &temperature, double density, Closest closest,
                                 double displacement, LAMMPS_NS::bigint step, LAMMPS_NS::bigint md_step);

  // "" or the inferences outside the domain per quantity over the run
  std::string summary() const;
  void reset();

  const Domain domain;

 private:
  int n_types;
  MPI_Comm world;
  std::vector<double> temps;
  std::array<bool, NQUANTITIES> outside{};
  std::array<LAMMPS_NS::bigint, NQUANTITIES> counts{};
};

}    // namespace ogn

#endif
