/* fix ogn: the learned integrator. One LAMMPS timestep is one inference of the exported
   model (python -m ogn_lammps.export), which moves every atom of the group by the [dr, dv]
   it predicts for k MD steps (paper Methods 4.2; design notes §6; the step is defined once,
   in python/ogn_lammps/model/step.py).

   This file holds the LAMMPS hooks, as fix_nve.cpp does: the checks of the deck in init(),
   the inference in initial_integrate(), thermostat half-kicks and energy yes around it. The
   model file (ogn_model.h), device and kernel choice (ogn_backend.h), the graph from the
   neighbour list (ogn_graph.h), the node rows between ranks (ogn_exchange.h) and the model
   run on them (ogn_inference.h) live in their own units. */

#include "fix_ogn.h"

#include "ogn_backend.h"
#include "ogn_domain.h"
#include "ogn_error.h"
#include "ogn_exchange.h"
#include "ogn_graph.h"
#include "ogn_inference.h"
#include "ogn_model.h"
#include "ogn_options.h"

#include "atom.h"
#include "comm.h"
#include "compute.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "group.h"
#include "input.h"
#include "modify.h"
#include "neigh_list.h"
#include "neigh_request.h"
#include "neighbor.h"
#include "update.h"
#include "variable.h"

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace LAMMPS_NS;
using namespace FixConst;

namespace {
bool close(double a, double b, double rel) { return std::fabs(a - b) <= rel * std::fmax(std::fabs(a), std::fabs(b)); }
}    // namespace

/* ---------------------------------------------------------------------- */

FixOGN::FixOGN(LAMMPS *lmp, int narg, char **arg) :
    Fix(lmp, narg, arg), newton_pairs(true), list(nullptr), mapped_at(-1), kick_flag(false), energy_flag(false),
    pe(nullptr), pe_last(0.0), energy_before(0.0), energy_scale(1.0), cost_per_atom(1.0)
{
  time_integrate = 1;
  // f_ID: the velocity scale factor of the last inference (1 unless energy yes)
  scalar_flag = 1;
  global_freq = 1;
  extscalar = 0;
  // f_ID per atom: this rank's cost per atom (set_cost), for fix balance's weight var
  peratom_flag = 1;
  size_peratom_cols = 0;
  peratom_freq = 1;
  const auto options = ogn::parse_options(lmp, narg, arg);
  k = options.k, newton_pairs = options.newton, energy_flag = options.energy;
  domain_mode = options.domain, domain_every = options.domain_every;
  std::string dtype_request = options.dtype;

  // the units throw ogn::Error with what follows "fix ogn: " (ogn_error.h)
  std::string no_kernel, device_note;
  try {
    model = std::make_unique<ogn::ModelFile>(ogn::load_model_file(model_path(options.model)));
    if (k != model->k)
      error->all(FLERR, "fix ogn: model {} was trained for k = {} MD steps per inference, the fix has k = {}",
                 model->path, model->k, k);
    if (dtype_request.empty()) dtype_request = model->dtype;
    const auto dtype = dtype_request == "float64" ? torch::kFloat64 : torch::kFloat32;
    const auto device = ogn::select_device(options.device, world, device_note);
    model->module.to(device, dtype);
    model->module.eval();
    auto kernel = ogn::select_kernel(options.kernel, *model, device, dtype, no_kernel);
    // LAMMPS's OpenMP threads per rank (OMP_NUM_THREADS, -pk omp) unless given
    if (kernel) kernel->set_threads(options.threads > 0 ? options.threads : comm->nthreads);
    graph = std::make_unique<ogn::Graph>(model->cutoff);
    exchange = std::make_unique<ogn::Exchange>(
        world, [this](int slots) { comm->forward_comm(this, slots); },
        [this](int slots) { comm->reverse_comm(this, slots); }, timing);
    inference = std::make_unique<ogn::Inference>(*model, device, dtype, std::move(kernel), newton_pairs, *graph,
                                                 *exchange, timing, world);
    guard = std::make_unique<ogn::DomainGuard>(model->domain, model->n_types, world);
  } catch (const ogn::Error &e) {
    error->all(FLERR, "fix ogn: {}", e.what());
  }
  vector_flag = 1;    // f_ID[t]: the kinetic temperature of type t of the group
  size_vector = model->n_types;
  extvector = 0;
  if (!model->domain.present) domain_mode = 0;
  if (comm->me == 0 && !model->domain.present)
    utils::logmesg(lmp, "fix ogn: model {} records no training domain; export it again for the domain guard\n",
                   model->path);
  else if (comm->me == 0 && domain_mode > 0)
    utils::logmesg(lmp, "fix ogn: training domain checked every {} inference(s), domain {}\n", domain_every,
                   domain_mode == 2 ? "error" : "warn");
  const auto *kernel = inference->kernel();
  const int nprocs = comm->nprocs;
  comm_forward = *std::max_element(model->exchange_widths.begin(), model->exchange_widths.end());
  // the fused kernel's pair sums (6) and angular moments (10 C, 20 C at rank 3) of foreign nodes
  comm_reverse = std::max(6, kernel ? kernel->moment_width() : 0);
  if (comm->me == 0) {
    if (!device_note.empty()) utils::logmesg(lmp, "fix ogn: {}\n", device_note);
    std::string path = "TorchScript forward()";
    if (kernel)
      path = fmt::format("fused CPU kernel, {} thread(s), {}{}", kernel->threads(), kernel->isa(),
                         nprocs > 1 ? std::string(", newton ") + (newton_pairs ? "on" : "off") : "");
    else if (model->architecture == "impulse" && options.kernel == "auto")
      path += " (no fused kernel: " + no_kernel + ")";
    utils::logmesg(lmp, "fix ogn: model {} ({} for {}, {} stage(s), cutoff {}, k = {} x dt {}) on {} in {}, {} MPI "
                   "rank(s), {}\n", model->path, model->architecture, model->system, model->stages(), model->cutoff,
                   k, model->dt, inference->device().is_cuda() ? "cuda (node-local rank mod visible GPUs)" : "cpu",
                   dtype_request, nprocs, path);
  }

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
   the model file's path, or v_name: the string of variable name, as other LAMMPS commands
   take it; a path with spaces passes through a deck that way (fix ogn all ogn v_model 5)
------------------------------------------------------------------------- */

std::string FixOGN::model_path(const std::string &arg)
{
  if (!utils::strmatch(arg, "^v_")) return arg;
  const char *value = input->variable->retrieve(arg.substr(2).c_str());
  if (!value)
    error->all(FLERR, "fix ogn: variable {} for the model file does not exist (or is not a string)",
               arg.substr(2));
  return value;
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
  const auto &m = *model;
  if (m.units != update->unit_style)
    error->all(FLERR, "fix ogn: model {} expects units {}, deck has units {}", m.path, m.units, update->unit_style);
  if (!close(update->dt, m.timestep, 1e-6))
    error->all(FLERR, "fix ogn: model expects timestep {} (k = {} x dt {}), deck has {}", m.timestep, k, m.dt,
               update->dt);
  if (atom->ntypes != m.n_types)
    error->all(FLERR, "fix ogn: model {} expects {} atom types, deck has {}", m.path, m.n_types, atom->ntypes);
  if (atom->rmass_flag)
    error->all(FLERR, "fix ogn: per-atom masses (rmass) are not supported; the model expects per-type masses");
  for (int t = 1; t <= m.n_types; t++)
    if (!atom->mass_setflag[t] || !close(atom->mass[t], m.masses[t - 1], 1e-5))
      error->all(FLERR, "fix ogn: model expects mass {} for type {}, deck has {}", m.masses[t - 1], t,
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
  neighbor->add_request(this, NeighConst::REQ_FULL)->set_cutoff(m.cutoff);
  comm->cutghostuser = std::fmax(comm->cutghostuser, m.cutoff + neighbor->skin);
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

    // a second fix ogn, even on another group, would see atoms the first has already moved
    // (on one rank) or foreign rows of a graph it did not build (on several)
    if (utils::strmatch(other->style, "^ogn$"))
      error->all(FLERR, "fix ogn: fix {} is a second fix ogn (group {}); one fix ogn per run moves its group's "
                 "atoms with one model, so unfix one of them", other->id, group->names[other->igroup]);
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
    // fix langevin's gjf keyword integrates velocities itself (a hook after the integrator's
    // first half-step, an initial_integrate in older LAMMPS): with the learned step in between
    // it heats (T 2.97 -> 4.53 in 40 inferences)
    if (thermostat && utils::strmatch(other->style, "^langevin") && sums[0] > 0 &&
        (modify->fmask[f] & (POST_INTEGRATE | INITIAL_INTEGRATE)))
      error->all(FLERR, "fix ogn: fix {} (langevin) uses gjf, whose velocity update assumes velocity-Verlet; drop "
                 "its gjf keyword (fix ogn gives fix langevin's forces as half-kicks around the learned step)",
                 other->id);
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
  timing = ogn::Timing();
  guard->reset();
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
   LAMMPS's communication of node rows between the model's stages (ogn_exchange.h)
------------------------------------------------------------------------- */

int FixOGN::pack_forward_comm(int n, int *send, double *buf, int, int *)
{
  return exchange->pack_forward(n, send, buf);
}

void FixOGN::unpack_forward_comm(int n, int first, double *buf)
{
  exchange->unpack_forward(n, first, buf);
}

int FixOGN::pack_reverse_comm(int n, int first, double *buf)
{
  return exchange->pack_reverse(n, first, buf);
}

void FixOGN::unpack_reverse_comm(int n, int *list, double *buf)
{
  exchange->unpack_reverse(n, list, buf);
}

/* ----------------------------------------------------------------------
   one inference = k MD steps
------------------------------------------------------------------------- */

void FixOGN::initial_integrate(int)
{
  c10::InferenceMode inference_mode;
  // the first half-kick of the later fixes' forces (thermostats), then the energy to keep
  if (kick_flag) kick();
  if (energy_flag) {
    double sums[6];
    kinetic_sums(sums);
    energy_before = pe_last + sums[0];
  }

  // the domain guard looks at the state the model is given, and at the step it takes
  const bool watch = domain_mode > 0 && timing.inferences % domain_every == 0;
  std::vector<double> temperature;
  if (watch) temperature = guard->temperatures(atom->nlocal, atom->v, atom->type, atom->mask, groupbit, atom->mass,
                                                 force->mvv2e, force->boltz);
  const ogn::Atoms atoms{atom->nlocal, atom->nghost, atom->x, atom->tag, atom->type};
  const double work_before = timing.work();
  double displacement = 0.0;
  try {
    if (mapped_at != neighbor->lastcall || (int) graph->node_of.size() != atoms.nlocal + atoms.nghost) {
      const ogn::NeighbourRows rows{list->inum, list->ilist, list->numneigh, list->firstneigh};
      graph->map(atoms, rows, !inference->checked(), inference->kernel(), newton_pairs, inference->device());
      mapped_at = neighbor->lastcall;
    }
    int stride = 0;
    const double *change = inference->run(atoms, atom->v[0], stride);
    displacement = check_and_apply(change, stride);
  } catch (const ogn::Error &e) {
    if (e.all) error->all(FLERR, "fix ogn: {}", e.what());
    error->one(FLERR, "fix ogn: {}", e.what());
  }
  set_cost(timing.work() - work_before);
  if (watch) check_domain(temperature, displacement);
}

/* ----------------------------------------------------------------------
   domain warn: one warning when a quantity leaves the training domain; domain error: stop
------------------------------------------------------------------------- */

void FixOGN::check_domain(const std::vector<double> &temperature, double displacement)
{
  const double density = (double) atom->natoms / (domain->xprd * domain->yprd * domain->zprd);
  const auto closest = graph->closest(model->domain.min_distance, model->n_types);
  for (const auto &line : guard->check(temperature, density, closest, displacement, update->ntimestep,
                                       update->ntimestep * k)) {
    if (domain_mode == 2) error->all(FLERR, "fix ogn: {} (domain error)", line);
    if (comm->me == 0) error->warning(FLERR, "fix ogn: {}", line);
  }
}

double FixOGN::compute_vector(int t)
{
  return guard->temperatures(atom->nlocal, atom->v, atom->type, atom->mask, groupbit, atom->mass, force->mvv2e,
                             force->boltz)[t];
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
    cost_per_atom = timing.inferences <= 1 ? now : 0.8 * cost_per_atom + 0.2 * now;
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
   where the time went, for users and benchmarks/fix_ogn.py
------------------------------------------------------------------------- */

void FixOGN::post_run()
{
  const bigint ninference = timing.inferences;
  if (ninference == 0) return;
  // the fix's own buffers (graph, node rows, exchange) per local atom, largest over the ranks
  const double bytes = memory_usage() / std::max(1, atom->nlocal);
  double local[6] = {timing.graph, timing.model - timing.comm, timing.comm, (double) timing.edges, bytes, timing.wait};
  double most[6];
  MPI_Allreduce(local, most, 6, MPI_DOUBLE, MPI_MAX, world);
  const double ms = 1e3 / (double) ninference;
  // the fused kernel's check, here: a line in the middle of the run would split the thermo table
  const auto check = inference->take_check();
  if (comm->me == 0 && !check.empty())
    utils::logmesg(lmp, "fix ogn: fused kernel checked against the model's forward() on the first inference: "
                   "largest difference {:.2g} (dr) and {:.2g} (dv) of the largest change\n", check[0], check[1]);
  if (comm->me == 0)
    utils::logmesg(lmp,
                   "fix ogn: {} inferences, per inference (slowest rank): graph {:.3f} ms, model {:.3f} ms, "
                   "node exchange {:.3f} ms ({:.3f} ms of it waiting for the other ranks); {:.0f} edges on the "
                   "busiest rank; {:.0f} bytes per atom\n",
                   ninference, most[0] * ms, most[1] * ms, most[2] * ms, most[5] * ms, most[3] / (double) ninference,
                   most[4]);
  const std::string outside = guard->summary();
  if (comm->me == 0 && !outside.empty()) utils::logmesg(lmp, "fix ogn: {} (of {})\n", outside, ninference);
}

/* ----------------------------------------------------------------------
   x += dr, v += dv in double precision; stop on a diverging prediction; returns the largest
   displacement
------------------------------------------------------------------------- */

double FixOGN::check_and_apply(const double *c, int stride)
{
  double most = 0.0;
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
    if (moved > model->cutoff)
      error->one(FLERR, "fix ogn: atom id {} moved {:.4g} in one inference at step {} (MD step {}), more than the "
                 "cutoff {}: the run has diverged", atom->tag[i], moved, update->ntimestep, update->ntimestep * k,
                 model->cutoff);
    most = std::fmax(most, moved);
    for (int m = 0; m < 3; m++) {
      x[i][m] += d[m];
      v[i][m] += d[3 + m];
    }
  }
  return most;
}

/* ---------------------------------------------------------------------- */

double FixOGN::memory_usage()
{
  double bytes = graph->memory_bytes() + exchange->memory_bytes() + inference->memory_bytes();
  bytes += (double) (f_before_fixes.capacity() + cost_atom.capacity()) * sizeof(double);
  return bytes;
}
