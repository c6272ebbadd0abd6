/* fix ogn's arguments (ogn_options.h). */
#include "ogn_options.h"

#include "error.h"
#include "lammps.h"
#include "utils.h"

#include <vector>

using namespace LAMMPS_NS;

namespace ogn {

Options parse_options(LAMMPS *lmp, int narg, char **arg)
{
  Error *error = lmp->error;
  if (narg < 5) utils::missing_cmd_args(FLERR, "fix ogn", error);
  Options o;
  o.model = arg[3];
  o.k = utils::inumeric(FLERR, arg[4], false, lmp);
  if (o.k < 1) error->all(FLERR, "fix ogn: stride k must be a positive integer, got {}", arg[4]);
  auto one_of = [&](const char *keyword, const std::string &value, std::initializer_list<const char *> allowed) {
    const std::vector<std::string> names(allowed.begin(), allowed.end());
    for (const auto &name : names)
      if (value == name) return value;
    std::string list = names[0];    // "a, b or c"
    for (size_t n = 1; n < names.size(); n++) list += (n + 1 == names.size() ? " or " : ", ") + names[n];
    error->all(FLERR, "fix ogn: {} must be {}, got {}", keyword, list, value);
    return value;
  };
  for (int iarg = 5; iarg < narg; iarg += 2) {
    if (iarg + 1 >= narg) utils::missing_cmd_args(FLERR, std::string("fix ogn ") + arg[iarg], error);
    const std::string keyword = arg[iarg], value = arg[iarg + 1];
    if (keyword == "device") {
      o.device = one_of("device", value, {"auto", "cpu", "cuda"});
    } else if (keyword == "dtype") {
      o.dtype = one_of("dtype", value, {"float32", "float64"});
    } else if (keyword == "energy") {
      o.energy = utils::logical(FLERR, value, false, lmp);
    } else if (keyword == "kernel") {
      o.kernel = one_of("kernel", value, {"auto", "fused", "torch"});
    } else if (keyword == "newton") {
      o.newton = utils::logical(FLERR, value, false, lmp);
    } else if (keyword == "domain") {
      const std::string mode = one_of("domain", value, {"off", "warn", "error"});
      o.domain = mode == "off" ? 0 : mode == "warn" ? 1 : 2;
    } else if (keyword == "domain/every") {
      o.domain_every = utils::is_integer(value) ? utils::inumeric(FLERR, value, false, lmp) : 0;
      if (o.domain_every < 1) error->all(FLERR, "fix ogn: domain/every must be a positive integer, got {}", value);
    } else if (keyword == "threads") {
      if (value != "auto") {
        o.threads = utils::is_integer(value) ? utils::inumeric(FLERR, value, false, lmp) : 0;
        if (o.threads < 1) error->all(FLERR, "fix ogn: threads must be auto or a positive integer, got {}", value);
      }
    } else {
      error->all(FLERR, "fix ogn: unknown keyword {} (expected device, dtype, kernel, threads, newton, energy, "
                 "domain or domain/every)", keyword);
    }
  }
  return o;
}

}    // namespace ogn
