// Shared test main: quiet logs unless UPLINKD_TEST_LOG names a level.
#include <cstdlib>

#include <gtest/gtest.h>

#include "common/log.h"

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  const char* level = std::getenv("UPLINKD_TEST_LOG");
  uplinkd::SetLogLevel(level ? level : "warn");
  return RUN_ALL_TESTS();
}
