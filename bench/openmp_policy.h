// A check both baseline benches run before measuring oneDNN.
//
// Debian's oneDNN runs its threads with OpenMP (libgomp). Under
// OMP_WAIT_POLICY=passive those threads sleep at the end of every parallel
// region, and on our VM waking them costs about 100 us, so every primitive
// call on two threads paid it: oneDNN's LSTM at batch 1 took 20 ms on two
// threads against 3.9 ms on one, and its 2-thread GEMMs fell to a fifth.
// libgomp's default policy spins for a short while (GOMP_SPINCOUNT) before
// sleeping, which neither cripples oneDNN nor keeps a core busy during the
// Tessera cases that follow, so the benches want OMP_WAIT_POLICY unset.
#ifndef TESSERA_BENCH_OPENMP_POLICY_H_
#define TESSERA_BENCH_OPENMP_POLICY_H_

#include <strings.h>

#include <cstdio>
#include <cstdlib>

namespace tessera {

inline void WarnIfOpenMpWaitsPassively() {
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  if (policy != nullptr && strcasecmp(policy, "passive") == 0) {
    std::printf("warning: OMP_WAIT_POLICY=passive makes oneDNN's threads sleep after every parallel region; its\n"
                "2-thread figures will be several times too slow. Unset it for a fair comparison.\n");
  }
}

}  // namespace tessera

#endif  // TESSERA_BENCH_OPENMP_POLICY_H_
