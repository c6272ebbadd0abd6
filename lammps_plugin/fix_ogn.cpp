/* fix ogn: the learned integrator. One LAMMPS timestep is one inference of the exported
   model (python -m ogn_lammps.export), which moves every atom of the group by the [dr, dv]
   it predicts for k MD steps (paper Methods 4.2; design notes §6; the step is defined once,
   in python/ogn_lammps/architectures/step.py).

   On one rank the fix calls the model's forward(), as the Python rollout does. On several
   ranks it runs the model stage by stage, as its metadata's `program` declares: before each
   stage the per-node rows (velocities, embeddings, a stage's prediction) of ghost atoms are
   refreshed from their owners by a forward communication of the declared width. The ghost
   cutoff stays r_c for any number of stages, and a new architecture needs no change here. */

#include "fix_ogn.h"

#ifdef OGN_HAVE_CUDA
#include "ogn_edges.h"
#endif

#include <torch/cuda.h>

#include "atom.h"
#include "comm.h"
#include "compute.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "group.h"
#include "json.h"
#include "modify.h"
#include "neigh_list.h"
#include "neigh_request.h"
#include "neighbor.h"
#include "update.h"

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace LAMMPS_NS;
using namespace FixConst;

namespace {
constexpr int FORMAT_VERSION = 2;    // metadata.json format, owned by ogn_lammps.model_file

bool close(double a, double b, double rel) { return std::fabs(a - b) <= rel * std::fmax(std::fabs(a), std::fabs(b)); }
}    // namespace

/* ---------------------------------------------------------------------- */

FixOGN::FixOGN(LAMMPS *lmp, int narg, char **arg) :
    Fix(lmp, narg, arg), device(torch::kCPU), dtype(torch::kFloat32), kernel_checked(false), newton_pairs(true),
    list(nullptr),
    mapped_at(-1), nforeign(0),
    kick_flag(false), energy_flag(false), pe(nullptr), pe_last(0.0), energy_before(0.0), energy_scale(1.0),
    cost_per_atom(1.0)
{
  if (narg < 5) utils::missing_cmd_args(FLERR, "fix ogn", error);
  time_integrate = 1;
  // f_ID: the velocity scale factor of the last inference (1 unless energy yes)
  scalar_flag = 1;
  global_freq = 1;
  extscalar = 0;
  // f_ID per atom: this rank's cost per atom (set_cost), for fix balance's weight var
  peratom_flag = 1;
  size_peratom_cols = 0;
  peratom_freq = 1;
  model_file = arg[3];
  k = utils::inumeric(FLERR, arg[4], false, lmp);
  if (k < 1) error->all(FLERR, "fix ogn: stride k must be a positive integer, got {}", arg[4]);

  std::string device_request = "auto", dtype_request, kernel_request = "auto";
  // LAMMPS's OpenMP threads per rank (OMP_NUM_THREADS, -pk omp) unless given
  int threads = comm->nthreads;
  for (int iarg = 5; iarg < narg; iarg += 2) {
    if (iarg + 1 >= narg) utils::missing_cmd_args(FLERR, std::string("fix ogn ") + arg[iarg], error);
    if (strcmp(arg[iarg], "device") == 0) {
      device_request = arg[iarg + 1];
      if (device_request != "auto" && device_request != "cpu" && device_request != "cuda")
        error->all(FLERR, "fix ogn: device must be auto, cpu or cuda, got {}", device_request);
    } else if (strcmp(arg[iarg], "dtype") == 0) {
      dtype_request = arg[iarg + 1];
      if (dtype_request != "float32" && dtype_request != "float64")
        error->all(FLERR, "fix ogn: dtype must be float32 or float64, got {}", dtype_request);
    } else if (strcmp(arg[iarg], "energy") == 0) {
      energy_flag = utils::logical(FLERR, arg[iarg + 1], false, lmp);
    } else if (strcmp(arg[iarg], "kernel") == 0) {
      kernel_request = arg[iarg + 1];
      if (kernel_request != "auto" && kernel_request != "fused" && kernel_request != "torch")
        error->all(FLERR, "fix ogn: kernel must be auto, fused or torch, got {}", kernel_request);
    } else if (strcmp(arg[iarg], "newton") == 0) {
      newton_pairs = utils::logical(FLERR, arg[iarg + 1], false, lmp);
    } else if (strcmp(arg[iarg], "threads") == 0) {
      if (strcmp(arg[iarg + 1], "auto") != 0) {
        threads = utils::is_integer(arg[iarg + 1]) ? utils::inumeric(FLERR, arg[iarg + 1], false, lmp) : 0;
        if (threads < 1)
          error->all(FLERR, "fix ogn: threads must be auto or a positive integer, got {}", arg[iarg + 1]);
      }
    } else {
      error->all(FLERR, "fix ogn: unknown keyword {} (expected device, dtype, kernel, threads, newton or energy)",
                 arg[iarg]);
    }
  }

  read_model(model_file);
  if (k != metadata_k)
    error->all(FLERR, "fix ogn: model {} was trained for k = {} MD steps per inference, the fix has k = {}",
               model_file, metadata_k, k);
  if (dtype_request.empty()) dtype_request = model_dtype;
  dtype = dtype_request == "float64" ? torch::kFloat64 : torch::kFloat32;
  select_device(device_request);
  model.to(device, dtype);
  model.eval();
  const std::string no_kernel = select_kernel(kernel_request);
  if (kernel) kernel->set_threads(threads);

  nprocs = comm->nprocs;
  comm_forward = *std::max_element(exchange_widths.begin(), exchange_widths.end());
  comm_width = comm_forward;
  // the fused kernel's pair sums (6) and angular moments (10 C) of foreign nodes
  comm_reverse = std::max(6, kernel ? kernel->moment_width() : 0);
  if (comm->me == 0)
    utils::logmesg(lmp,
                   "fix ogn: model {} ({} for {}, {} stage(s), cutoff {}, k = {} x dt {}) on {} in {}, {} MPI rank(s), "
                   "{}\n",
                   model_file, architecture, system_name, exchange_widths.size(), cutoff, k, dt_model,
                   device.is_cuda() ? "cuda (node-local rank mod visible GPUs)" : "cpu", dtype_request, nprocs,
                   kernel ? "fused CPU kernel, " + std::to_string(kernel->threads()) + " thread(s), " + kernel->isa() +
                       (nprocs > 1 ? std::string(", newton ") + (newton_pairs ? "on" : "off") : std::string())
                   : std::string("TorchScript forward()") +
                       (architecture == "impulse" && kernel_request == "auto" ? " (no fused kernel: " + no_kernel + ")"
                                                                             : std::string()));

  if (energy_flag) {
    // our own compute pe, so that the rescaling does not depend on thermo's settings
    id_pe = std::string(id) + "_pe";
    pe = modify->add_compute(id_pe + " all pe");
  }
  // the per-atom cost array follows the atoms (balance and exchange move them between
  // ranks); registered last, so that no failed check above leaves a callback behind
  atom->add_callback(Atom::GROW);
  grow_arrays(atom->nmax);
}

FixOGN::~FixOGN()
{
  atom->delete_callback(id, Atom::GROW);
  if (!id_pe.empty() && modify->get_compute_by_id(id_pe)) modify->delete_compute(id_pe);
}

/* ----------------------------------------------------------------------
   load model.pt and its metadata.json; every field the fix relies on is checked here
------------------------------------------------------------------------- */

void FixOGN::read_model(const std::string &path)
{
  if (!platform::file_is_readable(path)) error->all(FLERR, "fix ogn: cannot read model file {}", path);
  torch::jit::ExtraFilesMap extra{{"metadata.json", ""}};
  try {
    model = torch::jit::load(path, torch::kCPU, extra);
  } catch (const std::exception &e) {
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    error->all(FLERR, "fix ogn: {} is not a TorchScript model written by python -m ogn_lammps.export: {}", path,
               what);
  }
  if (extra["metadata.json"].empty())
    error->all(FLERR, "fix ogn: {} has no metadata.json; export it with python -m ogn_lammps.export", path);

  try {
    auto meta = json::parse(extra["metadata.json"]);
    const int format = meta.at("format_version").get<int>();
    if (format != FORMAT_VERSION)
      error->all(FLERR, "fix ogn: {} has metadata format_version {}, this fix reads {}", path, format,
                 FORMAT_VERSION);
    architecture = meta.at("architecture").get<std::string>();
    system_name = meta.at("system").get<std::string>();
    units = meta.at("units").get<std::string>();
    dt_model = meta.at("dt").get<double>();
    metadata_k = meta.at("k").get<int>();
    timestep_model = meta.at("timestep").get<double>();
    cutoff = meta.at("cutoff").get<double>();
    n_types = meta.at("n_types").get<int>();
    masses = meta.at("masses").get<std::vector<double>>();
    model_dtype = meta.at("dtype").get<std::string>();
    // what the fix supplies and exchanges between the model's stages (ogn_lammps.model_file)
    const auto &program = meta.at("program");
    const int nstages = program.at("stages").get<int>();
    exchange_widths = program.at("exchange").get<std::vector<int>>();
    const std::string node_input = program.at("node_input").get<std::string>();
    if (nstages < 1 || (int) exchange_widths.size() != nstages)
      error->all(FLERR, "fix ogn: metadata.json in {} declares {} stages and {} exchange widths", path, nstages,
                 exchange_widths.size());
    for (int w : exchange_widths)
      if (w < 1) error->all(FLERR, "fix ogn: metadata.json in {} declares an exchange width of {}", path, w);
    if (exchange_widths[0] != 3 || node_input != "velocities")
      error->all(FLERR, "fix ogn: model {} expects node input {} of width {}; this fix supplies velocities (3)",
                 path, node_input, exchange_widths[0]);
  } catch (const json::exception &e) {
    error->all(FLERR, "fix ogn: metadata.json in {} is corrupt or incomplete: {}", path, e.what());
  }
  if ((int) masses.size() != n_types)
    error->all(FLERR, "fix ogn: metadata.json in {} lists {} masses for {} types", path, masses.size(), n_types);
  for (const char *method : {"stage", "finish"})
    if (!model.find_method(method))
      error->all(FLERR, "fix ogn: model {} has no {}() method; re-export it with python -m ogn_lammps.export",
                 path, method);
}

/* ----------------------------------------------------------------------
   auto: the node-local MPI rank modulo the visible GPUs, else the CPU (design §6)
------------------------------------------------------------------------- */

void FixOGN::select_device(const std::string &request)
{
  const bool have_cuda = torch::cuda::is_available();
  if (request == "cuda" && !have_cuda)
    error->all(FLERR,
               "fix ogn: device cuda requested, but torch sees no CUDA GPU ({} visible devices); use device cpu",
               torch::cuda::device_count());
  if (request == "cpu" || !have_cuda) {
    device = torch::Device(torch::kCPU);
    return;
  }
#ifndef OGN_HAVE_CUDA
  if (request == "cuda")
    error->all(FLERR, "fix ogn: device cuda requested, but the plugin was built without CUDA (OGN_CUDA=OFF)");
  device = torch::Device(torch::kCPU);
  return;
#else
  MPI_Comm node;
  int node_rank;
  MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, comm->me, MPI_INFO_NULL, &node);
  MPI_Comm_rank(node, &node_rank);
  MPI_Comm_free(&node);
  const int ngpu = (int) torch::cuda::device_count();
  device = torch::Device(torch::kCUDA, node_rank % ngpu);
  if (comm->me == 0) utils::logmesg(lmp, "fix ogn: {} visible GPU(s); rank 0 uses cuda:{}\n", ngpu, node_rank % ngpu);
#endif
}

/* ----------------------------------------------------------------------
   auto: the fused kernel for the structured OGN on a CPU in float32 (impulse_kernel.h),
   else the model's TorchScript forward(); returns why the fused kernel is not used
------------------------------------------------------------------------- */

std::string FixOGN::select_kernel(const std::string &request)
{
  if (request == "torch") return "kernel torch";
  std::string why_not;
  if (architecture != "impulse")
    why_not = "it is written for architecture impulse, the model is " + architecture;
  else if (device.is_cuda())
    why_not = "it runs on the CPU, the model runs on cuda";
  else if (dtype != torch::kFloat32)
    why_not = "it computes in float32, the fix was asked for float64";
  else
    why_not = ogn::ImpulseKernel::unsupported_reason();
  if (why_not.empty()) {
    try {
      kernel = std::make_unique<ogn::ImpulseKernel>(model);
    } catch (const std::exception &e) {
      why_not = std::string("model ") + model_file + " cannot run in it: " + e.what();
    }
  }
  if (!why_not.empty() && request == "fused")
    error->all(FLERR, "fix ogn: kernel fused requested, but {}; use kernel torch", why_not);
  return why_not;
}

/* ---------------------------------------------------------------------- */

int FixOGN::setmask()
{
  return INITIAL_INTEGRATE | POST_FORCE | FINAL_INTEGRATE;
}

/* ----------------------------------------------------------------------
   the model's contract (metadata.json) against the running deck
------------------------------------------------------------------------- */

void FixOGN::init()
{
  if (units != update->unit_style)
    error->all(FLERR, "fix ogn: model {} expects units {}, deck has units {}", model_file, units,
               update->unit_style);
  if (!close(update->dt, timestep_model, 1e-6))
    error->all(FLERR, "fix ogn: model expects timestep {} (k = {} x dt {}), deck has {}", timestep_model, k,
               dt_model, update->dt);
  if (atom->ntypes != n_types)
    error->all(FLERR, "fix ogn: model {} expects {} atom types, deck has {}", model_file, n_types, atom->ntypes);
  if (atom->rmass_flag)
    error->all(FLERR, "fix ogn: per-atom masses (rmass) are not supported; the model expects per-type masses");
  for (int t = 1; t <= n_types; t++)
    if (!atom->mass_setflag[t] || !close(atom->mass[t], masses[t - 1], 1e-5))
      error->all(FLERR, "fix ogn: model expects mass {} for type {}, deck has {}", masses[t - 1], t,
                 atom->mass_setflag[t] ? atom->mass[t] : 0.0);
  if (!domain->xperiodic || !domain->yperiodic || !domain->zperiodic)
    error->all(FLERR, "fix ogn: the box must be periodic in x, y and z (boundary p p p), deck has {} {} {}",
               domain->xperiodic ? "p" : "non-periodic", domain->yperiodic ? "p" : "non-periodic",
               domain->zperiodic ? "p" : "non-periodic");
  if (domain->triclinic) error->all(FLERR, "fix ogn: triclinic boxes are not supported, use an orthogonal box");
  if (update->integrate_style && utils::strmatch(update->integrate_style, "^respa"))
    error->all(FLERR, "fix ogn: run_style respa is not supported, use verlet");

  check_other_fixes();
  if (energy_flag) {
    if (!force->pair)
      error->all(FLERR, "fix ogn: energy yes rescales velocities to the true total energy, which needs the "
                 "deck's pair style; the deck has no pair style");
    if (utils::strmatch(force->pair_style, "^zero"))
      error->all(FLERR, "fix ogn: energy yes rescales velocities to the true total energy, which needs the "
                 "deck's real pair style; the deck has pair_style {}", force->pair_style);
    pe = modify->get_compute_by_id(id_pe);
    if (!pe) error->all(FLERR, "fix ogn: compute {} for energy yes was deleted", id_pe);
  }

  // fix balance may read f_ID in the setup of the run, before our first inference
  set_cost(-1.0);

  // the graph comes from a full neighbour list of our own, with the model's cutoff
  neighbor->add_request(this, NeighConst::REQ_FULL)->set_cutoff(cutoff);
  comm->cutghostuser = std::fmax(comm->cutghostuser, cutoff + neighbor->skin);
}

/* ----------------------------------------------------------------------
   the other fixes of the deck, against the atoms fix ogn moves
------------------------------------------------------------------------- */

void FixOGN::check_other_fixes()
{
  const auto &fixes = modify->get_fix_list();
  const int nlocal = atom->nlocal, *mask = atom->mask;
  bool after = false;
  kick_flag = false;
  for (int f = 0; f < (int) fixes.size(); f++) {
    Fix *other = fixes[f];
    if (other == this) {
      after = true;
      continue;
    }
    bigint counts[2] = {0, 0}, sums[2];    // atoms in both groups, atoms only in the other's
    for (int i = 0; i < nlocal; i++)
      if (mask[i] & other->groupbit) counts[(mask[i] & groupbit) ? 0 : 1]++;
    MPI_Allreduce(counts, sums, 2, MPI_LMP_BIGINT, MPI_SUM, world);

    // fix ogn replaces velocity-Verlet: a second integrator would move the same atoms twice
    if (other->time_integrate && sums[0] > 0)
      error->all(FLERR, "fix ogn: fix {} ({}) also integrates {} atoms of group {}; fix ogn replaces the "
                 "integrator, so unfix one of them", other->id, other->style, sums[0], group->names[igroup]);
    // a thermostat acts through the integrator: on atoms that no integrator moves it does nothing
    const bool thermostat = utils::strmatch(other->style, "^langevin") || utils::strmatch(other->style, "^temp/");
    if (thermostat && sums[1] > 0)
      error->all(FLERR, "fix ogn: fix {} ({}) thermostats group {}, which has {} atoms outside group {} of fix "
                 "ogn; give it group {} or a subset", other->id, other->style, group->names[other->igroup],
                 sums[1], group->names[igroup], group->names[igroup]);
    // forces added after the pair style (fix langevin, addforce, efield, ...) become half-kicks
    // around the learned step; fix ogn tells them apart from the pair forces only if it
    // sees the forces before them
    if ((modify->fmask[f] & POST_FORCE) && sums[0] > 0) {
      if (!after)
        error->all(FLERR, "fix ogn: fix {} ({}) adds forces to atoms of fix ogn but is defined before it; define "
                   "fix {} after fix {} so that its forces act as half-kicks around the learned step",
                   other->id, other->style, other->id, id);
      kick_flag = true;
    }
  }
}

void FixOGN::init_list(int, NeighList *ptr)
{
  list = ptr;
}

void FixOGN::setup(int)
{
  mapped_at = -1;    // setup may have exchanged and sorted the atoms
  time_graph = time_model = time_comm = time_wait = 0.0;
  ninference = nedges_total = 0;
  // the fixes defined before us have applied their setup forces; later ones have not yet
  post_force(0);
  energy_scale = 1.0;
  if (energy_flag) {
    pe_last = pe->compute_scalar();
    pe->addstep(update->ntimestep + 1);
  }
}

/* ----------------------------------------------------------------------
   the forces so far: the pair style's (and bonds', kspace's), which the model replaces
------------------------------------------------------------------------- */

void FixOGN::post_force(int)
{
  if (!kick_flag) return;
  const int nlocal = atom->nlocal;
  if (f_before_fixes.size() < (size_t) 3 * atom->nmax) f_before_fixes.resize((size_t) 3 * atom->nmax);
  memcpy(f_before_fixes.data(), atom->f[0], (size_t) nlocal * 3 * sizeof(double));
}

/* ----------------------------------------------------------------------
   v += dt/2 (f - f_before_fixes) / m: the half-kick of the later fixes' forces
------------------------------------------------------------------------- */

void FixOGN::kick()
{
  const double dtf = 0.5 * update->dt * force->ftm2v;
  double **v = atom->v, **f = atom->f;
  const double *mass = atom->mass;
  const int *mask = atom->mask, *type = atom->type;
  for (int i = 0; i < atom->nlocal; i++) {
    if (!(mask[i] & groupbit)) continue;
    const double dtfm = dtf / mass[type[i]];
    for (int m = 0; m < 3; m++) v[i][m] += dtfm * (f[i][m] - f_before_fixes[3 * i + m]);
  }
}

/* ----------------------------------------------------------------------
   in one pass and one reduction: the kinetic energy of all atoms (sums[0]), and of the
   group (sums[1]) with its momentum (sums[2..4]) and mass (sums[5])
------------------------------------------------------------------------- */

void FixOGN::kinetic_sums(double *sums)
{
  double local[6] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  double **v = atom->v;
  const double *mass = atom->mass;
  const int *mask = atom->mask, *type = atom->type;
  for (int i = 0; i < atom->nlocal; i++) {
    const double m = mass[type[i]];
    const double mv2 = m * (v[i][0] * v[i][0] + v[i][1] * v[i][1] + v[i][2] * v[i][2]);
    local[0] += mv2;
    if (!(mask[i] & groupbit)) continue;
    local[1] += mv2;
    for (int d = 0; d < 3; d++) local[2 + d] += m * v[i][d];
    local[5] += m;
  }
  MPI_Allreduce(local, sums, 6, MPI_DOUBLE, MPI_SUM, world);
  sums[0] *= 0.5 * force->mvv2e;
  sums[1] *= 0.5 * force->mvv2e;
}

/* ----------------------------------------------------------------------
   energy yes: scale the group's velocities about their centre of mass (momentum stays) so
   that the true potential energy at the new positions plus the kinetic energy equals the
   total energy before the inference (the rescaling FlashMD applies)
------------------------------------------------------------------------- */

void FixOGN::rescale_to_energy()
{
  pe_last = pe->compute_scalar();
  pe->addstep(update->ntimestep + 1);
  double sums[6];
  kinetic_sums(sums);
  const double ke_all = sums[0], ke_group = sums[1], *p = sums + 2, mass_group = sums[5];
  const double ke_centre = mass_group > 0.0 ? 0.5 * force->mvv2e * (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]) / mass_group : 0.0;
  const double ke_thermal = ke_group - ke_centre;
  const double wanted = energy_before - pe_last - (ke_all - ke_group) - ke_centre;
  if (wanted <= 0.0 || ke_thermal <= 0.0)
    error->all(FLERR, "fix ogn: energy yes at step {} (MD step {}): the potential energy {:.8g} after the "
               "inference leaves {:.8g} of the total energy {:.8g} for the thermal kinetic energy of group {} "
               "(it has {:.8g}); the run has diverged", update->ntimestep, update->ntimestep * k, pe_last, wanted,
               energy_before, group->names[igroup], ke_thermal);
  energy_scale = std::sqrt(wanted / ke_thermal);
  double vcm[3];
  for (int d = 0; d < 3; d++) vcm[d] = p[d] / mass_group;
  double **v = atom->v;
  const int *mask = atom->mask;
  for (int i = 0; i < atom->nlocal; i++)
    if (mask[i] & groupbit)
      for (int d = 0; d < 3; d++) v[i][d] = vcm[d] + energy_scale * (v[i][d] - vcm[d]);
}

/* ----------------------------------------------------------------------
   after the force computation: conserve the true energy, then the second half-kick
------------------------------------------------------------------------- */

void FixOGN::final_integrate()
{
  if (energy_flag) rescale_to_energy();
  if (kick_flag) kick();
}

double FixOGN::compute_scalar()
{
  return energy_scale;
}

/* ----------------------------------------------------------------------
   graph nodes, once per neighbour list build
------------------------------------------------------------------------- */

void FixOGN::map_nodes()
{
  const int nlocal = atom->nlocal, nall = nlocal + atom->nghost;
  const tagint *tag = atom->tag;
  local_of_tag.clear();
  for (int i = 0; i < nlocal; i++) local_of_tag[tag[i]] = i;

  node_of.assign(nall, -1);
  node_atom.resize(nlocal);
  for (int i = 0; i < nlocal; i++) node_of[i] = node_atom[i] = i;
  // candidate pairs (i, j) of the list, each row sorted by node: edges then reach the node
  // table in order, as in the Python rollout's sorted graph
  cand_i.clear(), cand_j.clear(), half_i.clear(), half_j.clear(), self_i.clear(), self_j.clear();
  // the fused kernel needs each unordered pair once; the full candidates only until its check.
  // A pair with a foreign atom is computed either by the rank of the smaller atom id, which
  // returns the foreign atom's share to its owner (newton on), or by both ranks, each keeping
  // its own atom's share (newton off: a few % more pairs, no reverse communication)
  const bool full = !kernel || !kernel_checked;
  if (!full) {
    // the checked kernel's pairs need no order (its sums are in double): on its threads
    unique_pairs();
  } else {
    std::vector<std::pair<int, int>> row;
    const int *ilist = list->ilist, *numneigh = list->numneigh;
    int **firstneigh = list->firstneigh;
    for (int ii = 0; ii < list->inum; ii++) {
      const int i = ilist[ii];
      row.clear();
      for (int jj = 0; jj < numneigh[i]; jj++) {
        const int j = firstneigh[i][jj] & NEIGHMASK;
        if (node_of[j] < 0) {
          auto owner = local_of_tag.find(tag[j]);
          if (owner != local_of_tag.end()) {
            node_of[j] = owner->second;
          } else {
            node_of[j] = (int) node_atom.size();
            node_atom.push_back(j);
          }
        }
        row.emplace_back(node_of[j], j);
      }
      std::sort(row.begin(), row.end());
      for (const auto &pair : row) {
        cand_i.push_back(i), cand_j.push_back(pair.second);
        const bool once = pair.first < nlocal ? i < pair.first : !newton_pairs || tag[i] < tag[pair.second];
        if (kernel && once) half_i.push_back(i), half_j.push_back(pair.second);
        // an atom's own images: their impulses cancel, but they count in its angular moments
        if (kernel && pair.first == i) self_i.push_back(i), self_j.push_back(pair.second);
      }
    }
  }
  nforeign = (int) node_atom.size() - nlocal;
  node_types.resize(node_atom.size());
  for (size_t n = 0; n < node_atom.size(); n++) node_types[n] = atom->type[node_atom[n]];

  if (device.is_cuda()) {
    // the candidate pairs live on the device until the next build; only x is sent per step
    std::vector<int64_t> dst(cand_j.size());
    for (size_t c = 0; c < cand_j.size(); c++) dst[c] = node_of[cand_j[c]];
    auto upload = [&](auto &v, torch::ScalarType t) {
      return torch::from_blob(v.data(), {(int64_t) v.size()}, t).to(device);
    };
    pair_i = upload(cand_i, torch::kInt32);
    pair_j = upload(cand_j, torch::kInt32);
    pair_src = pair_i.to(torch::kInt64);
    pair_dst = upload(dst, torch::kInt64);
  }
  mapped_at = neighbor->lastcall;
}

/* ----------------------------------------------------------------------
   map_nodes() once the fused kernel is checked: its unordered pairs and an atom's own images,
   from the rows of the list on the kernel's threads (silicon, 10 240 atoms: 4.5 ms per list
   build on one). The same pairs in the list's order, and the same node numbers, as the loop
   of map_nodes() gives without its sort: each thread counts, then writes, the pairs of a
   contiguous share of the rows.
------------------------------------------------------------------------- */

void FixOGN::unique_pairs()
{
  const int nlocal = atom->nlocal, nghost = atom->nghost;
  const tagint *tag = atom->tag;
  // ghosts that are images of local atoms: those atoms' nodes (the tag map is only read here)
  kernel->run_shares(nghost, 4096, [&](int, int64_t begin, int64_t end) {
    for (int j = nlocal + (int) begin; j < nlocal + (int) end; j++) {
      auto owner = local_of_tag.find(tag[j]);
      if (owner != local_of_tag.end()) node_of[j] = owner->second;
    }
  });
  const int *ilist = list->ilist, *numneigh = list->numneigh;
  int **firstneigh = list->firstneigh;
  const int inum = list->inum, threads = kernel->threads();
  // per share: its pairs and images (counted, then written from where the shares before end),
  // and the ghosts of other ranks it meets
  std::vector<int64_t> npairs(threads, 0), nimages(threads, 0), pairs_at(threads + 1, 0), images_at(threads + 1, 0);
  std::vector<std::vector<int>> foreign(threads);
  auto rows = [&](int t, int64_t begin, int64_t end, bool write) {
    int64_t p = pairs_at[t], m = images_at[t];
    for (int64_t ii = begin; ii < end; ii++) {
      const int i = ilist[ii];
      for (int jj = 0; jj < numneigh[i]; jj++) {
        const int j = firstneigh[i][jj] & NEIGHMASK, node = node_of[j];
        // node < 0: another rank's atom (numbered once the threads are done)
        if (node < 0 && !write) foreign[t].push_back(j);
        if (node >= 0 ? i < node : !newton_pairs || tag[i] < tag[j]) {
          if (write) half_i[p] = i, half_j[p] = j;
          p++;
        }
        if (node == i) {
          if (write) self_i[m] = i, self_j[m] = j;
          m++;
        }
      }
    }
    if (!write) npairs[t] = p, nimages[t] = m;    // counted from 0
  };
  const int shares = kernel->run_shares(inum, 1024, [&](int t, int64_t begin, int64_t end) {
    foreign[t].clear();
    rows(t, begin, end, false);
  });
  for (int t = 0; t < shares; t++) pairs_at[t + 1] = pairs_at[t] + npairs[t], images_at[t + 1] = images_at[t] + nimages[t];
  half_i.resize(pairs_at[shares]), half_j.resize(pairs_at[shares]);
  self_i.resize(images_at[shares]), self_j.resize(images_at[shares]);
  // the same shares again (the same n and grain)
  kernel->run_shares(inum, 1024, [&](int t, int64_t begin, int64_t end) { rows(t, begin, end, true); });
  // other ranks' atoms in the order the rows meet them, as map_nodes() numbers them
  for (int t = 0; t < shares; t++)
    for (const int j : foreign[t])
      if (node_of[j] < 0) {
        node_of[j] = (int) node_atom.size();
        node_atom.push_back(j);
      }
}

/* ----------------------------------------------------------------------
   edges (i, j) with |x_j - x_i| < cutoff for every local i, plus the reverse edge when j is
   a ghost owned by another rank (its owner builds the same pair from its side)
------------------------------------------------------------------------- */

torch::Tensor FixOGN::build_edges(torch::Tensor &edge_vectors)
{
  const int nlocal = atom->nlocal;
  double **x = atom->x;

#ifdef OGN_HAVE_CUDA
  if (device.is_cuda()) {
    auto xs = torch::from_blob(x[0], {nlocal + atom->nghost, 3}, torch::kFloat64).to(device);
    const int64_t npairs = pair_i.size(0);
    auto vectors = torch::empty({npairs, 3}, xs.options());
    auto keep = torch::empty({npairs}, xs.options().dtype(torch::kBool));
    const int err = ogn_pair_vectors_cuda(xs.data_ptr<double>(), pair_i.data_ptr<int32_t>(),
                                          pair_j.data_ptr<int32_t>(), npairs, cutoff,
                                          vectors.data_ptr<double>(), keep.data_ptr<bool>());
    if (err) error->one(FLERR, "fix ogn: CUDA edge kernel failed with error code {}", err);
    auto idx = keep.nonzero().squeeze(1);
    auto s = pair_src.index_select(0, idx), d = pair_dst.index_select(0, idx);
    auto vv = vectors.index_select(0, idx);
    auto foreign = (d >= nlocal).nonzero().squeeze(1);
    edge_vectors = torch::cat({vv, -vv.index_select(0, foreign)});
    return torch::stack({torch::cat({s, d.index_select(0, foreign)}), torch::cat({d, s.index_select(0, foreign)})});
  }
#endif

  const double cutsq = cutoff * cutoff;
  src.clear(), dst.clear(), vec.clear(), rsrc.clear(), rdst.clear(), rvec.clear();
  for (size_t c = 0; c < cand_i.size(); c++) {
    const int i = cand_i[c], j = cand_j[c];
    const double dx = x[j][0] - x[i][0], dy = x[j][1] - x[i][1], dz = x[j][2] - x[i][2];
    if (dx * dx + dy * dy + dz * dz >= cutsq) continue;
    const int node = node_of[j];
    src.push_back(i), dst.push_back(node), vec.insert(vec.end(), {dx, dy, dz});
    if (node >= nlocal) rsrc.push_back(node), rdst.push_back(i), rvec.insert(rvec.end(), {-dx, -dy, -dz});
  }
  const int64_t nedges = (int64_t) (src.size() + rsrc.size());
  src.insert(src.end(), rsrc.begin(), rsrc.end());
  src.insert(src.end(), dst.begin(), dst.end());    // row 1 of edge_index follows row 0
  src.insert(src.end(), rdst.begin(), rdst.end());
  vec.insert(vec.end(), rvec.begin(), rvec.end());
  edge_vectors = torch::from_blob(vec.data(), {nedges, 3}, torch::kFloat64);
  return torch::from_blob(src.data(), {2, nedges}, torch::kInt64);
}

/* ----------------------------------------------------------------------
   the fused kernel's pairs: each unordered pair within the cutoff once, as (node i, node j)
   with i < j and the vector r_j - r_i in float32
------------------------------------------------------------------------- */

void FixOGN::build_pairs()
{
  double **x = atom->x;
  const double cutsq = cutoff * cutoff;
  const int64_t candidates = (int64_t) half_i.size();
  pair_src32.resize(candidates), pair_dst32.resize(candidates), pair_vec.resize(3 * candidates);
  // on the kernel's threads (silicon, two threads: 4% of the step when serial), each over a
  // contiguous share of the candidates, its pairs in order from the start of its share; the
  // shares are then moved together, in order
  std::vector<int64_t> begins(kernel->threads() + 1), kept(kernel->threads());
  const int shares = kernel->run_shares(candidates, 16384, [&](int t, int64_t begin, int64_t end) {
    int64_t m = begin;
    for (int64_t c = begin; c < end; c++) {
      const int i = half_i[c], j = half_j[c];
      const double dx = x[j][0] - x[i][0], dy = x[j][1] - x[i][1], dz = x[j][2] - x[i][2];
      if (dx * dx + dy * dy + dz * dz >= cutsq) continue;
      pair_src32[m] = i, pair_dst32[m] = node_of[j];
      pair_vec[3 * m] = (float) dx, pair_vec[3 * m + 1] = (float) dy, pair_vec[3 * m + 2] = (float) dz;
      m++;
    }
    begins[t] = begin, kept[t] = m - begin;
  });
  int64_t npairs = kept[0];
  for (int t = 1; t < shares; t++) {
    std::memmove(&pair_src32[npairs], &pair_src32[begins[t]], kept[t] * sizeof(int32_t));
    std::memmove(&pair_dst32[npairs], &pair_dst32[begins[t]], kept[t] * sizeof(int32_t));
    std::memmove(&pair_vec[3 * npairs], &pair_vec[3 * begins[t]], 3 * kept[t] * sizeof(float));
    npairs += kept[t];
  }
  pair_src32.resize(npairs), pair_dst32.resize(npairs), pair_vec.resize(3 * npairs);
  self_src32.clear(), self_vec.clear();
  for (size_t c = 0; c < self_i.size(); c++) {
    const int i = self_i[c], j = self_j[c];
    const double dx = x[j][0] - x[i][0], dy = x[j][1] - x[i][1], dz = x[j][2] - x[i][2];
    if (dx * dx + dy * dy + dz * dz >= cutsq) continue;
    self_src32.push_back(i);
    self_vec.insert(self_vec.end(), {(float) dx, (float) dy, (float) dz});
  }
}

/* ----------------------------------------------------------------------
   every exchange waits for the slowest rank anyway; a barrier first separates that wait
   (load imbalance, a busy core) from the transfer itself in the report (one more
   synchronization, microseconds on one node)
------------------------------------------------------------------------- */

void FixOGN::wait_for_other_ranks()
{
  const double start = platform::walltime();
  MPI_Barrier(world);
  time_wait += platform::walltime() - start;
}

/* ----------------------------------------------------------------------
   rows: nlocal + nforeign rows of `stride` doubles (default `width`) with the local rows set;
   columns [offset, offset + width) of the ghost nodes owned by other ranks are refreshed from
   their owners. Only what travels is copied: the local rows are packed in place, and only the
   ghosts' rows pass through comm_rows (silicon on two ranks at 10 240 atoms: 3 933 bytes per
   atom, 5 034 when every row was copied first)
------------------------------------------------------------------------- */

void FixOGN::exchange_rows(double *rows, int width, int stride, int offset, bool single)
{
  const int nlocal = atom->nlocal, nghost = atom->nghost;
  if (stride <= 0) stride = width;
  comm_width = width, comm_stride = stride, comm_offset = offset, comm_src = rows, comm_float = single;
  const int slots = wire_slots(width, single);
  if (comm_rows.size() < (size_t) nghost * slots) comm_rows.resize((size_t) nghost * slots);
  const double start = platform::walltime();
  wait_for_other_ranks();
  comm->forward_comm(this, slots);
  time_comm += platform::walltime() - start;
  for (int n = nlocal; n < nlocal + nforeign; n++) {
    const double *from = &comm_rows[(size_t) (node_atom[n] - nlocal) * slots];
    double *to = rows + (size_t) n * stride + offset;
    if (single) {
      wire.resize(width);
      memcpy(wire.data(), from, width * sizeof(float));
      for (int k = 0; k < width; k++) to[k] = wire[k];
    } else {
      memcpy(to, from, width * sizeof(double));
    }
  }
}

/* ----------------------------------------------------------------------
   newton on for the fused kernel: the sums (`width` per node) of foreign nodes go to the
   owners of those atoms, which add them to their own
------------------------------------------------------------------------- */

void FixOGN::return_foreign_sums(double *sums, int width, bool single)
{
  const int nlocal = atom->nlocal, nghost = atom->nghost;
  const double start = platform::walltime();
  wait_for_other_ranks();
  reverse_width = width, reverse_dst = sums, reverse_float = single;
  returned.assign((size_t) nghost * width, 0.0);
  for (int n = nlocal; n < nlocal + nforeign; n++)
    memcpy(&returned[(size_t) (node_atom[n] - nlocal) * width], sums + (size_t) n * width, width * sizeof(double));
  comm->reverse_comm(this, wire_slots(width, single));
  time_comm += platform::walltime() - start;
}

int FixOGN::wire_slots(int width, bool single)
{
  return single ? (width + 1) / 2 : width;
}

/* one row of `width` doubles onto the wire (`slots` doubles), as float32 when `single` */
void FixOGN::put_row(double *out, const double *row, int width, bool single)
{
  if (!single) {
    memcpy(out, row, width * sizeof(double));
    return;
  }
  wire.assign(2 * wire_slots(width, true), 0.0f);
  for (int k = 0; k < width; k++) wire[k] = (float) row[k];
  memcpy(out, wire.data(), wire.size() * sizeof(float));
}

int FixOGN::pack_reverse_comm(int n, int first, double *buf)
{
  // `first` is a ghost: reverse communication sends what ghosts hold back to their owners
  const size_t w = reverse_width, slots = wire_slots(reverse_width, reverse_float);
  const size_t base = (size_t) (first - atom->nlocal) * w;
  for (int m = 0; m < n; m++) put_row(buf + m * slots, &returned[base + m * w], w, reverse_float);
  return n * slots;
}

void FixOGN::unpack_reverse_comm(int n, int *list, double *buf)
{
  // a local atom adds to its own sums; a ghost (a corner image, passed on by a later swap)
  // keeps the share until its own swap sends it
  const size_t w = reverse_width, slots = wire_slots(reverse_width, reverse_float);
  const int nlocal = atom->nlocal;
  if (reverse_float) wire.resize(2 * slots);
  for (int m = 0; m < n; m++) {
    const int j = list[m];
    double *to = j < nlocal ? reverse_dst + (size_t) j * w : &returned[(size_t) (j - nlocal) * w];
    if (reverse_float) {
      memcpy(wire.data(), buf + m * slots, w * sizeof(float));
      for (size_t k = 0; k < w; k++) to[k] += wire[k];
    } else {
      for (size_t k = 0; k < w; k++) to[k] += buf[w * m + k];
    }
  }
}

torch::Tensor FixOGN::exchange(const torch::Tensor &rows)
{
  const int nlocal = atom->nlocal, nnodes = nlocal + nforeign, width = (int) rows.size(1);
  exchanged.resize((size_t) nnodes * width);
  auto table = torch::from_blob(exchanged.data(), {nnodes, width}, torch::kFloat64);
  table.narrow(0, 0, nlocal).copy_(rows.narrow(0, 0, nlocal));
  exchange_rows(exchanged.data(), width);
  return table.to(rows.device(), rows.scalar_type(), false, true);
}

int FixOGN::pack_forward_comm(int n, int *send, double *buf, int, int *)
{
  // a swap sends local atoms, or ghosts received in an earlier swap (the corners), whose rows
  // are already in wire form
  const int slots = wire_slots(comm_width, comm_float), nlocal = atom->nlocal;
  for (int m = 0; m < n; m++) {
    const int j = send[m];
    if (j < nlocal)
      put_row(buf + (size_t) m * slots, comm_src + (size_t) j * comm_stride + comm_offset, comm_width, comm_float);
    else
      memcpy(buf + (size_t) m * slots, &comm_rows[(size_t) (j - nlocal) * slots], slots * sizeof(double));
  }
  return n * slots;
}

void FixOGN::unpack_forward_comm(int n, int first, double *buf)
{
  const int slots = wire_slots(comm_width, comm_float);
  memcpy(&comm_rows[(size_t) (first - atom->nlocal) * slots], buf, (size_t) n * slots * sizeof(double));
}

/* ----------------------------------------------------------------------
   one inference = k MD steps
------------------------------------------------------------------------- */

void FixOGN::initial_integrate(int)
{
  c10::InferenceMode inference;
  // the first half-kick of the later fixes' forces (thermostats), then the energy to keep
  if (kick_flag) kick();
  if (energy_flag) {
    double sums[6];
    kinetic_sums(sums);
    energy_before = pe_last + sums[0];
  }

  const int nlocal = atom->nlocal;
  if (mapped_at != neighbor->lastcall || (int) node_of.size() != nlocal + atom->nghost) map_nodes();
  // node inputs (node_types is set per list build): the velocities of local atoms; on
  // several ranks the rows of foreign ghosts come from their owners in the first exchange
  velocities.assign((size_t) (nlocal + nforeign) * 3, 0.0);
  memcpy(velocities.data(), atom->v[0], (size_t) nlocal * 3 * sizeof(double));
  ninference++;

  const double work_before = time_graph + time_model - time_comm;
  if (kernel) {
    const double *change = fused_inference();
    if (!kernel_checked) check_kernel(change);
    check_and_apply(change, 9);
  } else {
    auto change = torch_inference();
    check_and_apply(change.data_ptr<double>(), 6);
  }
  set_cost(time_graph + time_model - time_comm - work_before);
}

/* ----------------------------------------------------------------------
   f_ID per atom: the rank's own work per local atom in microseconds per inference, a
   running mean over about 5 inferences (one inference is noisy); a negative work only
   refreshes the array (1 before any inference: equal weights)
------------------------------------------------------------------------- */

void FixOGN::set_cost(double work_seconds)
{
  const int nlocal = atom->nlocal;
  if (work_seconds >= 0.0 && nlocal > 0) {
    const double now = 1e6 * work_seconds / nlocal;
    // the first measurement replaces the neutral 1; the weights are relative across ranks,
    // and every rank measures at the same inference
    cost_per_atom = ninference <= 1 ? now : 0.8 * cost_per_atom + 0.2 * now;
  }
  std::fill(cost_atom.begin(), cost_atom.begin() + nlocal, std::max(cost_per_atom, 1e-12));
}

/* ----------------------------------------------------------------------
   the per-atom cost array as LAMMPS grows, sorts and migrates the atoms: an atom that arrives
   from another rank costs what this rank's atoms cost
------------------------------------------------------------------------- */

void FixOGN::grow_arrays(int nmax)
{
  cost_atom.resize(std::max(nmax, 1), cost_per_atom);
  vector_atom = cost_atom.data();
}

void FixOGN::copy_arrays(int i, int j, int)
{
  cost_atom[j] = cost_atom[i];
}

int FixOGN::pack_exchange(int, double *)
{
  return 0;
}

int FixOGN::unpack_exchange(int nlocal, double *)
{
  cost_atom[nlocal] = std::max(cost_per_atom, 1e-12);
  return 0;
}

/* ----------------------------------------------------------------------
   the structured OGN's stages in the fused kernel: rows [v, dr, dv] per node; returns a
   pointer to the local rows' [dr, dv] with a stride of 9
------------------------------------------------------------------------- */

const double *FixOGN::fused_inference()
{
  const int nnodes = atom->nlocal + nforeign;
  double start = platform::walltime();
  build_pairs();
  nedges_total += 2 * (bigint) pair_src32.size();    // as ordered pairs, like the torch graph
  double now = platform::walltime();
  time_graph += now - start;
  start = now;

  const int mw = kernel->moment_width();
  if (mw > 0) {
    // angular moments: this rank's share, completed by the owners, then sent to the ghosts
    double *moments = kernel->moment_sums(nnodes, pair_src32.data(), pair_dst32.data(), pair_vec.data(),
                                          (int64_t) pair_src32.size(), self_src32.data(), self_vec.data(),
                                          (int64_t) self_src32.size());
    if (nprocs > 1) {
      if (newton_pairs) return_foreign_sums(moments, mw, true);
      exchange_rows(moments, mw, 0, 0, true);
    }
    kernel->use_moments(nnodes);
  }
  rows_in.resize((size_t) nnodes * 9);
  rows_out.resize((size_t) nnodes * 9);
  double *in = velocities.data();
  for (int s = 0; s < kernel->stages(); s++) {
    // stage 0 takes the velocities; a later stage's rows [v, dr, dv] of foreign nodes hold the
    // right v since stage 0, so only [dr, dv] travel
    if (nprocs > 1) {
      if (s == 0) exchange_rows(in, 3);
      else exchange_rows(in, 6, 9, 3);
    }
    if (s > 0 && kernel->end_moments()) {
      // the moments at the end of the step the stage before predicted, completed as above
      double *moments = kernel->moment_sums(nnodes, pair_src32.data(), pair_dst32.data(), pair_vec.data(),
                                            (int64_t) pair_src32.size(), self_src32.data(), self_vec.data(),
                                            (int64_t) self_src32.size(), in);
      if (nprocs > 1) {
        if (newton_pairs) return_foreign_sums(moments, mw, true);
        exchange_rows(moments, mw, 0, 0, true);
      }
      kernel->use_moments(nnodes, true);
    }
    double *sums = kernel->pair_sums(s, nnodes, node_types.data(), in, pair_src32.data(), pair_dst32.data(),
                                     pair_vec.data(), (int64_t) pair_src32.size());
    if (nprocs > 1 && newton_pairs) return_foreign_sums(sums, 6);
    kernel->update(s, nnodes, node_types.data(), in, sums, rows_out.data());
    rows_in.swap(rows_out);
    in = rows_in.data();
  }
  time_model += platform::walltime() - start;
  return in + 3;
}

/* ----------------------------------------------------------------------
   the model's TorchScript forward() (one rank) or its program of stages (several);
   returns [dr, dv] of the local atoms, (nlocal, 6) in float64 on the CPU
------------------------------------------------------------------------- */

torch::Tensor FixOGN::torch_inference()
{
  const int nlocal = atom->nlocal, nnodes = nlocal + nforeign;
  double start = platform::walltime();
  torch::Tensor edge_vectors;
  auto edge_index = build_edges(edge_vectors);
  nedges_total += edge_index.size(1);
  double now = platform::walltime();
  time_graph += now - start;
  start = now;
  auto to_device = [&](const torch::Tensor &t) { return t.to(device); };

  auto types_t = to_device(torch::from_blob(node_types.data(), {nnodes}, torch::kInt64));
  auto velocities_t = to_device(torch::from_blob(velocities.data(), {nnodes, 3}, torch::kFloat64));
  edge_vectors = to_device(edge_vectors);
  edge_index = to_device(edge_index);
  torch::Tensor change;
  if (nprocs == 1) {
    // one rank: every ghost is an image of a local atom, so the graph is the periodic graph
    // of the Python rollout and the same exported forward() computes the step
    change = model.forward({types_t, velocities_t, edge_index, edge_vectors}).toTensor();
  } else {
    // the program of metadata.json: exchange the declared rows, run the stage, repeat
    auto nodes = velocities_t;
    auto edges = torch::zeros({0}, velocities_t.options().dtype(dtype));
    for (int s = 0; s < (int) exchange_widths.size(); s++) {
      if (nodes.size(1) != exchange_widths[s])
        error->one(FLERR, "fix ogn: model {} gave node rows of width {} before stage {}, its metadata declares {}",
                   model_file, nodes.size(1), s, exchange_widths[s]);
      nodes = exchange(nodes);
      auto out = model.run_method("stage", s, types_t, nodes, edges, edge_index, edge_vectors).toTuple();
      nodes = out->elements()[0].toTensor();
      edges = out->elements()[1].toTensor();
    }
    change = model.run_method("finish", nodes.narrow(0, 0, nlocal)).toTensor();
  }
  change = change.narrow(0, 0, nlocal).to(torch::kCPU, torch::kFloat64).contiguous();
  time_model += platform::walltime() - start;
  return change;
}

/* ----------------------------------------------------------------------
   the fused kernel against the model's own forward() on the same state, once per fix:
   they must agree to float32 rounding (the timings leave this inference out)
------------------------------------------------------------------------- */

void FixOGN::check_kernel(const double *fused)
{
  const double saved[4] = {time_graph, time_model, time_comm, time_wait};
  const bigint saved_edges = nedges_total;
  auto reference = torch_inference();
  time_graph = saved[0], time_model = saved[1], time_comm = saved[2], time_wait = saved[3];
  nedges_total = saved_edges;

  const double *ref = reference.data_ptr<double>();
  double local[4] = {0.0, 0.0, 0.0, 0.0}, most[4];    // largest |difference| and |change|, dr then dv
  for (int i = 0; i < atom->nlocal; i++)
    for (int m = 0; m < 6; m++) {
      const int part = m < 3 ? 0 : 2;
      local[part] = std::fmax(local[part], std::fabs(fused[9 * (size_t) i + m] - ref[6 * (size_t) i + m]));
      local[part + 1] = std::fmax(local[part + 1], std::fabs(ref[6 * (size_t) i + m]));
    }
  MPI_Allreduce(local, most, 4, MPI_DOUBLE, MPI_MAX, world);
  const double dr = most[0] / std::fmax(most[1], 1e-300), dv = most[2] / std::fmax(most[3], 1e-300);
  constexpr double TOLERANCE = 1e-4;
  if (!(dr <= TOLERANCE && dv <= TOLERANCE))
    error->all(FLERR, "fix ogn: the fused kernel and the TorchScript forward() of model {} differ by {:.3g} (dr) and "
               "{:.3g} (dv) of the largest change on the first inference, expected below {:.0e}; run with kernel "
               "torch", model_file, dr, dv, TOLERANCE);
  // the torch path's graph is not needed again
  for (auto *buffer : {&src, &dst, &rsrc, &rdst}) std::vector<int64_t>().swap(*buffer);
  for (auto *buffer : {&cand_i, &cand_j}) std::vector<int32_t>().swap(*buffer);
  for (auto *buffer : {&vec, &rvec, &exchanged}) std::vector<double>().swap(*buffer);
  // reported by post_run(): a line in the middle of the run would split the thermo table
  kernel_check = {dr, dv};
  kernel_checked = true;
}

/* ----------------------------------------------------------------------
   where the time went, for users and benchmarks/fix_ogn.py
------------------------------------------------------------------------- */

void FixOGN::post_run()
{
  if (ninference == 0) return;
  // the fix's own buffers (graph, node rows, exchange) per local atom, largest over the ranks
  const double bytes = memory_usage() / std::max(1, atom->nlocal);
  double local[6] = {time_graph, time_model - time_comm, time_comm, (double) nedges_total, bytes, time_wait}, most[6];
  MPI_Allreduce(local, most, 6, MPI_DOUBLE, MPI_MAX, world);
  const double ms = 1e3 / (double) ninference;
  if (comm->me == 0 && !kernel_check.empty()) {
    utils::logmesg(lmp, "fix ogn: fused kernel checked against the model's forward() on the first inference: "
                   "largest difference {:.2g} (dr) and {:.2g} (dv) of the largest change\n", kernel_check[0],
                   kernel_check[1]);
    kernel_check.clear();
  }
  if (comm->me == 0)
    utils::logmesg(lmp,
                   "fix ogn: {} inferences, per inference (slowest rank): graph {:.3f} ms, model {:.3f} ms, "
                   "node exchange {:.3f} ms ({:.3f} ms of it waiting for the other ranks); {:.0f} edges on the "
                   "busiest rank; {:.0f} bytes per atom\n",
                   ninference, most[0] * ms, most[1] * ms, most[2] * ms, most[5] * ms, most[3] / (double) ninference,
                   most[4]);
}

/* ----------------------------------------------------------------------
   x += dr, v += dv in double precision; stop on a diverging prediction
------------------------------------------------------------------------- */

void FixOGN::check_and_apply(const double *c, int stride)
{
  double **x = atom->x, **v = atom->v;
  const int *mask = atom->mask;
  for (int i = 0; i < atom->nlocal; i++) {
    if (!(mask[i] & groupbit)) continue;
    const double *d = c + (size_t) stride * i;
    bool finite = true;
    for (int m = 0; m < 6; m++) finite = finite && std::isfinite(d[m]);
    if (!finite)
      error->one(FLERR, "fix ogn: non-finite prediction for atom id {} at step {} (MD step {}): the run has diverged",
                 atom->tag[i], update->ntimestep, update->ntimestep * k);
    const double moved = std::sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    if (moved > cutoff)
      error->one(FLERR, "fix ogn: atom id {} moved {:.4g} in one inference at step {} (MD step {}), more than the "
                 "cutoff {}: the run has diverged", atom->tag[i], moved, update->ntimestep, update->ntimestep * k,
                 cutoff);
    for (int m = 0; m < 3; m++) {
      x[i][m] += d[m];
      v[i][m] += d[3 + m];
    }
  }
}

/* ---------------------------------------------------------------------- */

double FixOGN::memory_usage()
{
  double bytes = (double) comm_rows.capacity() * sizeof(double);
  bytes += (double) (src.capacity() + dst.capacity() + rsrc.capacity() + rdst.capacity()) * sizeof(int64_t);
  bytes += (double) (vec.capacity() + rvec.capacity()) * sizeof(double);
  bytes += (double) (node_of.capacity() + node_atom.capacity() + cand_i.capacity() + cand_j.capacity()) * sizeof(int);
  bytes += (double) (half_i.capacity() + half_j.capacity() + pair_src32.capacity() + pair_dst32.capacity()) * 4;
  bytes += (double) (pair_vec.capacity() + self_vec.capacity()) * sizeof(float);
  bytes += (double) (self_i.capacity() + self_j.capacity() + self_src32.capacity()) * 4;
  if (kernel) bytes += kernel->memory_bytes();
  bytes += (double) (rows_in.capacity() + rows_out.capacity() + exchanged.capacity() + returned.capacity()) *
      sizeof(double);
  bytes += (double) (node_types.capacity() + velocities.capacity() + f_before_fixes.capacity() +
                     cost_atom.capacity()) * 8;
  return bytes;
}
