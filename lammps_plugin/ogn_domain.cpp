/* The training domain and its guard (ogn_domain.h). */
#include "ogn_domain.h"

#include "fmt/format.h"

#include <algorithm>
#include <cmath>

namespace ogn {

namespace {
const char *const NAMES[DomainGuard::NQUANTITIES] = {"temperature", "density", "closest pair", "displacement"};
}

DomainGuard::DomainGuard(const Domain &domain, int n_types, MPI_Comm world) :
    domain(domain), n_types(n_types), world(world), temps(n_types, 0.0)
{
}

const std::vector<double> &DomainGuard::temperatures(int nlocal, double *const *v, const int *type, const int *mask,
                                                     int groupbit, const double *mass, double mvv2e, double boltz)
{
  std::vector<double> local(2 * n_types, 0.0), sums(2 * n_types);    // m v^2, then atoms, per type
  for (int i = 0; i < nlocal; i++) {
    if (!(mask[i] & groupbit)) continue;
    const int t = type[i] - 1;
    local[t] += mass[type[i]] * (v[i][0] * v[i][0] + v[i][1] * v[i][1] + v[i][2] * v[i][2]);
    local[n_types + t] += 1.0;
  }
  MPI_Allreduce(local.data(), sums.data(), 2 * n_types, MPI_DOUBLE, MPI_SUM, world);
  for (int t = 0; t < n_types; t++)
    temps[t] = sums[n_types + t] > 0 ? mvv2e * sums[t] / (3.0 * sums[n_types + t] * boltz) : 0.0;
  return temps;
}

std::vector<std::string> DomainGuard::check(const std::vector<double> &temperature, double density, Closest closest,
                                            double displacement, LAMMPS_NS::bigint step, LAMMPS_NS::bigint md_step)
{
  // the closest pair over the ranks, and the largest displacement
  struct {
    double value;
    int rank;
  } mine{closest.ratio, 0}, best;
  MPI_Comm_rank(world, &mine.rank);
  MPI_Allreduce(&mine, &best, 1, MPI_DOUBLE_INT, MPI_MINLOC, world);
  double pair[3] = {closest.distance, (double) closest.type_a, (double) closest.type_b};
  MPI_Bcast(pair, 3, MPI_DOUBLE, best.rank, world);
  double most;
  MPI_Allreduce(&displacement, &most, 1, MPI_DOUBLE, MPI_MAX, world);

  std::array<std::string, NQUANTITIES> why;    // non-empty: outside, and how
  const std::string where = fmt::format(" at step {} (MD step {})", step, md_step);
  for (int t = 0; t < (int) domain.temperature.size() && t < n_types; t++) {
    const auto &range = domain.temperature[t];
    if (why[TEMPERATURE].empty() && (temperature[t] < range[0] || temperature[t] > range[1]))
      why[TEMPERATURE] = fmt::format("the temperature of type {} is {:.4g}{}; the model learned {:.4g} to {:.4g}",
                                     t + 1, temperature[t], where, range[0], range[1]);
  }
  if (domain.density[1] > 0 && (density < domain.density[0] || density > domain.density[1]))
    why[DENSITY] = fmt::format("the number density is {:.4g}{}; the model learned {:.4g} to {:.4g}", density, where,
                               domain.density[0], domain.density[1]);
  if (best.value < 1.0) {
    const int a = (int) pair[1], b = (int) pair[2];
    why[DISTANCE] = fmt::format("atoms of types {} and {} are {:.4g} apart{}; the closest the model learned is {:.4g}",
                                a, b, pair[0], where, domain.min_distance[(a - 1) * n_types + (b - 1)]);
  }
  if (domain.max_displacement > 0 && most > domain.max_displacement)
    why[DISPLACEMENT] = fmt::format("an atom moved {:.4g} in one inference{}; the model learned up to {:.4g}", most,
                                    where, domain.max_displacement);

  std::vector<std::string> left;
  for (int q = 0; q < NQUANTITIES; q++) {
    const bool out = !why[q].empty();
    if (out) counts[q]++;
    // one line when a quantity leaves the domain, none while it stays out
    if (out && !outside[q]) left.push_back("outside the training domain: " + why[q]);
    outside[q] = out;
  }
  return left;
}

std::string DomainGuard::summary() const
{
  std::string parts;
  for (int q = 0; q < NQUANTITIES; q++)
    if (counts[q]) parts += fmt::format("{}{} {}", parts.empty() ? "" : ", ", NAMES[q], counts[q]);
  return parts.empty() ? "" : "inferences outside the training domain: " + parts;
}

void DomainGuard::reset()
{
  outside.fill(false);
  counts.fill(0);
}

}    // namespace ogn
