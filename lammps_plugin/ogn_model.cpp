/* Loading model.pt and checking its metadata.json (ogn_model.h). */
#include "ogn_model.h"

#include "ogn_error.h"

#include "json.h"
#include "platform.h"
#include "utils.h"

using LAMMPS_NS::json;

namespace ogn {

namespace {
template <typename... Args> Error fail(fmt::string_view format, Args &&...args)
{
  return Error(fmt::vformat(format, fmt::make_format_args(args...)));
}

// "domain": per-type temperature ranges, a density range, the closest pair per pair of types
// and the largest displacement of one inference, margins included (ogn_lammps.model_file)
void read_domain(const json &d, ModelFile &m)
{
  Domain &domain = m.domain;
  domain.present = true;
  const int nt = m.n_types;
  if (d.contains("temperature")) {
    for (const auto &range : d.at("temperature").get<std::vector<std::vector<double>>>()) {
      if (range.size() != 2) throw fail("metadata.json in {}: a domain temperature range has {} numbers", m.path,
                                        range.size());
      domain.temperature.push_back({range[0], range[1]});
    }
    if ((int) domain.temperature.size() != nt)
      throw fail("metadata.json in {} gives domain temperatures for {} types, the model has {}", m.path,
                 domain.temperature.size(), nt);
  }
  if (d.contains("density")) {
    const auto range = d.at("density").get<std::vector<double>>();
    if (range.size() != 2) throw fail("metadata.json in {}: the domain density has {} numbers", m.path, range.size());
    domain.density = {range[0], range[1]};
  }
  if (d.contains("min_distance")) {
    for (const auto &row : d.at("min_distance").get<std::vector<std::vector<double>>>())
      domain.min_distance.insert(domain.min_distance.end(), row.begin(), row.end());
    if ((int) domain.min_distance.size() != nt * nt)
      throw fail("metadata.json in {} gives {} domain closest distances, expected {} x {}", m.path,
                 domain.min_distance.size(), nt, nt);
  }
  domain.max_displacement = d.value("max_displacement", 0.0);
}
}    // namespace

ModelFile load_model_file(const std::string &path)
{
  ModelFile m;
  m.path = path;
  if (!LAMMPS_NS::platform::file_is_readable(path)) throw fail("cannot read model file {}", path);
  torch::jit::ExtraFilesMap extra{{"metadata.json", ""}};
  try {
    m.module = torch::jit::load(path, torch::kCPU, extra);
  } catch (const std::exception &e) {
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    throw fail("{} is not a TorchScript model written by python -m ogn_lammps.export: {}", path, what);
  }
  if (extra["metadata.json"].empty())
    throw fail("{} has no metadata.json; export it with python -m ogn_lammps.export", path);

  try {
    auto meta = json::parse(extra["metadata.json"]);
    const int format = meta.at("format_version").get<int>();
    if (format != ModelFile::FORMAT_VERSION)
      throw fail("{} has metadata format_version {}, this fix reads {}", path, format, ModelFile::FORMAT_VERSION);
    m.architecture = meta.at("architecture").get<std::string>();
    m.system = meta.at("system").get<std::string>();
    m.units = meta.at("units").get<std::string>();
    m.dt = meta.at("dt").get<double>();
    m.k = meta.at("k").get<int>();
    m.timestep = meta.at("timestep").get<double>();
    m.cutoff = meta.at("cutoff").get<double>();
    m.n_types = meta.at("n_types").get<int>();
    m.masses = meta.at("masses").get<std::vector<double>>();
    m.dtype = meta.at("dtype").get<std::string>();
    // what the fix supplies and exchanges between the model's stages (ogn_lammps.model_file)
    const auto &program = meta.at("program");
    const int nstages = program.at("stages").get<int>();
    m.exchange_widths = program.at("exchange").get<std::vector<int>>();
    const std::string node_input = program.at("node_input").get<std::string>();
    if (nstages < 1 || (int) m.exchange_widths.size() != nstages)
      throw fail("metadata.json in {} declares {} stages and {} exchange widths", path, nstages,
                 m.exchange_widths.size());
    for (int w : m.exchange_widths)
      if (w < 1) throw fail("metadata.json in {} declares an exchange width of {}", path, w);
    if (m.exchange_widths[0] != 3 || node_input != "velocities")
      throw fail("model {} expects node input {} of width {}; this fix supplies velocities (3)", path, node_input,
                 m.exchange_widths[0]);
    if (meta.contains("domain")) read_domain(meta.at("domain"), m);
  } catch (const json::exception &e) {
    throw fail("metadata.json in {} is corrupt or incomplete: {}", path, e.what());
  }
  if ((int) m.masses.size() != m.n_types)
    throw fail("metadata.json in {} lists {} masses for {} types", path, m.masses.size(), m.n_types);
  if (!(m.cutoff > 0.0)) throw fail("metadata.json in {} declares a cutoff of {}, expected > 0", path, m.cutoff);
  if (!(m.dt > 0.0) || m.k < 1 || !(m.timestep > 0.0))
    throw fail("metadata.json in {} declares dt {}, k {} and timestep {}, expected dt > 0 and k >= 1", path, m.dt,
               m.k, m.timestep);
  // metadata copied onto another model, or edited: the per-type tables of the weights are
  // sized by the model's own n_types, and a type beyond them would be read out of bounds
  if (m.module.hasattr("n_types")) {
    const auto own = m.module.attr("n_types");
    if (own.isInt() && own.toInt() != m.n_types)
      throw fail("metadata.json in {} declares {} atom types, the model's weights are for {}", path, m.n_types,
                 own.toInt());
  }
  for (const char *method : {"stage", "finish"})
    if (!m.module.find_method(method))
      throw fail("model {} has no {}() method; re-export it with python -m ogn_lammps.export", path, method);
  return m;
}

}    // namespace ogn
