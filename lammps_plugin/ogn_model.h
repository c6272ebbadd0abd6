/* model.pt as fix ogn reads it: the TorchScript module and the metadata.json it was exported
   with (the contract owned by python/ogn_lammps/model/model_file.py, docs/model.md). Every field the
   fix relies on is checked here, once, when the file is loaded. */
#ifndef OGN_MODEL_H
#define OGN_MODEL_H

#include "ogn_domain.h"

#include <torch/script.h>

#include <string>
#include <vector>

namespace ogn {

struct ModelFile {
  static constexpr int FORMAT_VERSION = 2;    // of metadata.json, as ogn_lammps.model_file writes it

  std::string path;
  torch::jit::Module module;    // on the CPU as loaded; the fix moves it to its device
  std::string architecture, system, units, dtype;
  double dt = 0, timestep = 0, cutoff = 0;    // timestep = k x dt, the LAMMPS timestep it expects
  int k = 0, n_types = 0;
  std::vector<double> masses;    // per type, 1-based types at [type - 1]
  // the model's program: one width per stage, of the node rows exchanged before it; the
  // first stage takes the velocities (width 3), the one thing the fix supplies
  std::vector<int> exchange_widths;
  Domain domain;    // what the model learned from, when export recorded it

  int stages() const { return (int) exchange_widths.size(); }
};

// loads and checks path; throws ogn::Error naming the file and what is wrong with it
ModelFile load_model_file(const std::string &path);

}    // namespace ogn

#endif
