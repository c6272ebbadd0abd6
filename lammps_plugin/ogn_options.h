/* fix ogn's arguments: `fix ID group ogn model k [keyword value ...]` (docs/fix_ogn.md), read
   and checked once; a wrong one stops with a line naming the keyword, the value and what it
   may be. */
#ifndef OGN_OPTIONS_H
#define OGN_OPTIONS_H

#include <string>

namespace LAMMPS_NS {
class LAMMPS;
}

namespace ogn {

struct Options {
  std::string model;    // a path, or v_name (FixOGN::model_path)
  int k = 0;
  std::string device = "auto", dtype, kernel = "auto";    // dtype "": the model's own
  int threads = 0;                                        // 0: LAMMPS's OpenMP threads per rank
  bool newton = true, energy = false;
  int domain = 1;    // 0 off, 1 warn, 2 error
  int domain_every = 1;
};

// arg[3] onwards of the fix command; stops LAMMPS (error->all) on a bad one
Options parse_options(LAMMPS_NS::LAMMPS *lmp, int narg, char **arg);

}    // namespace ogn

#endif
