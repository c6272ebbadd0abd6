// Wall time per phase of fix ogn's inferences over one run, added up by the units that do the
// work (graph, inference, exchange) and reported by FixOGN::post_run(). No torch, no LAMMPS.
#ifndef OGN_TIMING_H
#define OGN_TIMING_H

#include <chrono>
#include <cstdint>

namespace ogn {

struct Timing {
  double graph = 0, model = 0, comm = 0;    // comm: part of model (the exchanges between stages)
  double wait = 0;                          // part of comm: the barrier before each exchange
  int64_t inferences = 0, edges = 0;        // edges: ordered pairs, summed over the inferences
  // this rank's own work so far: graph and model, not the exchanges
  double work() const { return graph + model - comm; }
};

// seconds on a steady clock, for the differences added up above
inline double walltime()
{
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}    // namespace ogn

#endif
