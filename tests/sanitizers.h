// Tests that measure (statistics over many runs, or real-time deadlines over processes that
// are themselves sanitizer builds, 10 to 50 times slower) skip in the ASan and TSan builds:
// they run in the release build, and the sanitizers take the same code through other tests.
#ifndef SHOAL_TESTS_SANITIZERS_H_
#define SHOAL_TESTS_SANITIZERS_H_

#include <gtest/gtest.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SHOAL_UNDER_SANITIZERS 1
#define SKIP_UNDER_SANITIZERS() GTEST_SKIP() << "a measuring test: run in the release build"
#else
#define SHOAL_UNDER_SANITIZERS 0
#define SKIP_UNDER_SANITIZERS() (void)0
#endif

// The heartbeat period for tests of failure detection. Sanitizer builds run 10 to 50 times
// slower: a 50 ms heartbeat can go unanswered there with nothing stalled, so they use a longer
// one. The release build holds detection to 5 periods (3 missed heartbeats, plus the check's
// own period and scheduling); under a sanitizer on a loaded 2-core machine one run in a few
// took longer than 5 periods of 400 ms, so there the bound is 8.
constexpr int kTestHeartbeatMs = SHOAL_UNDER_SANITIZERS ? 400 : 50;
constexpr double kTestDetectionPeriods = SHOAL_UNDER_SANITIZERS ? 8.0 : 5.0;

#endif  // SHOAL_TESTS_SANITIZERS_H_
