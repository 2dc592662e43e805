// The upload progress board's contract (ingest/upload_progress.h), one suite
// every backend must pass: add a backend to kBackends.
#include "ingest/upload_progress.h"

#include "local_services.h"
#include "test_util.h"

namespace embedrec::ingest {
namespace {

struct Backend {
  const char* name;
  std::function<std::unique_ptr<UploadProgressBoard>(const Clock*)> open;
  std::function<bool()> available = [] { return true; };
};

void PrintTo(const Backend& b, std::ostream* os) { *os << b.name; }

const Backend kBackends[] = {
    {"memory", [](const Clock* c) { return NewMemoryUploadProgressBoard(c); }},
    {"redis",
     [](const Clock* c) {
       return std::move(OpenRedisUploadProgressBoard(*testing::LocalService("EMBEDREC_TEST_REDIS_URL"), c)).value();
     },
     [] { return testing::LocalService("EMBEDREC_TEST_REDIS_URL").has_value(); }},
};

class UploadProgressTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (!GetParam().available()) GTEST_SKIP() << GetParam().name << " is not running (see tests/local_services.h)";
    board_ = GetParam().open(&clock_);
    other_node_ = GetParam().name == std::string("memory") ? nullptr : GetParam().open(&clock_);
  }
  FakeClock clock_;
  std::string tenant_ = NewUuid();
  std::unique_ptr<UploadProgressBoard> board_, other_node_;
};

TEST_P(UploadProgressTest, AnUploadsProgressIsReadByTenantAndIdUntilItsEnd) {
  EXPECT_FALSE(board_->Get(tenant_, "p1").has_value());
  board_->Set(tenant_, "p1", {100, 2, false});
  auto p = board_->Get(tenant_, "p1");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->bytes, 100);
  EXPECT_EQ(p->lines, 2);
  EXPECT_FALSE(p->done);
  EXPECT_FALSE(board_->Get(NewUuid(), "p1").has_value());  // another tenant's id space
  board_->Set(tenant_, "p1", {5000, 90, true});
  p = board_->Get(tenant_, "p1");
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(p->done);
  EXPECT_EQ(p->bytes, 5000);
  if (other_node_) {  // a shared board: another node reads it
    auto q = other_node_->Get(tenant_, "p1");
    ASSERT_TRUE(q.has_value());
    EXPECT_EQ(q->lines, 90);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, UploadProgressTest, ::testing::ValuesIn(kBackends),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(MemoryUploadProgressTest, EntriesGoTenMinutesAfterTheirLastUpdate) {
  FakeClock clock;
  auto board = NewMemoryUploadProgressBoard(&clock);
  board->Set("t", "p", {1, 1, true});
  clock.AdvanceMillis(599'000);
  EXPECT_TRUE(board->Get("t", "p").has_value());
  clock.AdvanceMillis(2'000);
  EXPECT_FALSE(board->Get("t", "p").has_value());
}

}  // namespace
}  // namespace embedrec::ingest
