// The buffer pool on hugepages. Reserves 2 MiB hugepages itself (root) and gives the count back
// after, so it runs with the integration tests (one at a time: nr_hugepages is machine-wide).
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "buffer/buffer_pool.h"

namespace uplinkd {
namespace {

constexpr const char* kNrHugepages = "/proc/sys/vm/nr_hugepages";

long ReadLong(const char* path) {
  std::ifstream in(path);
  long v = -1;
  in >> v;
  return v;
}

bool WriteLong(const char* path, long v) {
  std::ofstream out(path);
  out << v;
  out.flush();
  return static_cast<bool>(out);
}

// Raises nr_hugepages by `extra` for its lifetime.
class HugepageReservation {
 public:
  explicit HugepageReservation(long extra) : before_(ReadLong(kNrHugepages)) {
    ok_ = before_ >= 0 && WriteLong(kNrHugepages, before_ + extra) &&
          ReadLong(kNrHugepages) >= before_ + extra;
  }
  ~HugepageReservation() {
    if (before_ >= 0) WriteLong(kNrHugepages, before_);
  }
  bool ok() const { return ok_; }

 private:
  long before_;
  bool ok_ = false;
};

class HugepageTest : public testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      const char* required = std::getenv("UPLINKD_REQUIRE_INTEGRATION");
      if (required && std::string(required) == "1") FAIL() << "hugepage tests need root";
      GTEST_SKIP() << "hugepage tests need root (to reserve hugepages); skipped LOUDLY";
    }
  }
};

TEST_F(HugepageTest, PoolUsesHugepagesWhenAllowedAndFree) {
  HugepageReservation reservation(16);  // 32 MiB with 2 MiB pages
  ASSERT_TRUE(reservation.ok()) << "could not reserve hugepages";
  auto pool = BufferPool::Create({.buffers = 4096, .data_size = 2048, .allow_hugepages = true});
  ASSERT_TRUE(pool.ok()) << pool.status().message();
  EXPECT_TRUE((*pool)->on_hugepages());
  BufferCache cache(**pool);
  Buffer* b = cache.AllocOne();
  ASSERT_NE(b, nullptr);
  b->data()[0] = 0x5a;  // the memory is really there
  cache.FreeOne(b);
  EXPECT_EQ((*pool)->available(), 4096u);
}

TEST_F(HugepageTest, NoHugetlbKeepsPlainMemoryEvenWhenHugepagesAreFree) {
  HugepageReservation reservation(16);
  ASSERT_TRUE(reservation.ok()) << "could not reserve hugepages";
  auto pool = BufferPool::Create({.buffers = 4096, .data_size = 2048, .allow_hugepages = false});
  ASSERT_TRUE(pool.ok()) << pool.status().message();
  EXPECT_FALSE((*pool)->on_hugepages());
}

TEST_F(HugepageTest, TooFewFreeHugepagesFallsBackToPlainMemory) {
  // More memory than any reservation here: hugepages cannot hold it, plain pages can.
  auto pool = BufferPool::Create({.buffers = 300000, .data_size = 2048, .allow_hugepages = true});
  ASSERT_TRUE(pool.ok()) << pool.status().message();
  EXPECT_FALSE((*pool)->on_hugepages());
}

}  // namespace
}  // namespace uplinkd
