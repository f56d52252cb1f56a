#pragma once
// The offload tests' fixture: a pool of 2048 plain 2048-byte buffers and a cache, and the check
// that a test gave every buffer back.

#include <gtest/gtest.h>

#include <memory>

#include "buffer/buffer_pool.h"

namespace uplinkd::offload::test {

class PoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pool = BufferPool::Create({.buffers = 2048, .data_size = 2048, .allow_hugepages = false});
    ASSERT_TRUE(pool.ok()) << pool.status().message();
    pool_ = std::move(*pool);
    cache_ = std::make_unique<BufferCache>(*pool_);
  }
  void TearDown() override {
    cache_.reset();
    EXPECT_EQ(pool_->available(), pool_->total()) << "a buffer leaked";
  }

  std::unique_ptr<BufferPool> pool_;
  std::unique_ptr<BufferCache> cache_;
};

}  // namespace uplinkd::offload::test
