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

// UPLINKD_DCHECK_IS_ON: 1 where UPLINKD_DCHECK checks (no NDEBUG: the Debug, asan and tsan
// builds), 0 in release; for debug-only bookkeeping and for tests that need the checks.

#ifdef NDEBUG
#define UPLINKD_DCHECK_IS_ON 0
// Not evaluated (sizeof), but still compiled: variables used only by checks stay "used".
#define UPLINKD_DCHECK(cond)    \
  do {                          \
    (void)sizeof(!(cond));      \
  } while (0)
#else
#define UPLINKD_DCHECK_IS_ON 1
#define UPLINKD_DCHECK(cond) UPLINKD_CHECK(cond)
#endif
