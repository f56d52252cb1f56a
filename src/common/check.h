#pragma once
// UPLINKD_CHECK: a condition that cannot fail unless the process is broken (OOM, a failed
// pthread_create after init). It aborts, and the manager restores Linux. Never use it for
// environment failures (missing interface, EPERM): those are returned as Status.
// UPLINKD_DCHECK: an invariant checked in debug builds only (fast path).

#include <cstdio>
#include <cstdlib>

#define UPLINKD_CHECK(cond)                                                              \
  do {                                                                                   \
    if (__builtin_expect(!(cond), 0)) {                                                  \
      std::fprintf(stderr, "uplinkd: check failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

#ifdef NDEBUG
#define UPLINKD_DCHECK(cond) \
  do {                       \
  } while (0)
#else
#define UPLINKD_DCHECK(cond) UPLINKD_CHECK(cond)
#endif
