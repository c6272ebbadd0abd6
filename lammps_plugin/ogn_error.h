// What the fix's units throw: the message after "fix ogn: ", and whether every rank meets the
// same condition (the fix reports it with error->all) or only this one (error->one). The
// units stay free of LAMMPS's Error class, so that they can be used without a LAMMPS run.
#ifndef OGN_ERROR_H
#define OGN_ERROR_H

#include <stdexcept>
#include <string>

namespace ogn {

struct Error : std::runtime_error {
  bool all;    // true: every rank throws it (a collective check, or the same input on all)
  explicit Error(const std::string &what, bool all = true) : std::runtime_error(what), all(all) {}
};

}    // namespace ogn

#endif
