// The limits' counters' contract (limits/limit_store.h), one suite every
// backend must pass: add a backend to kBackends.
#include "limits/limit_store.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "local_services.h"
#include "test_util.h"

namespace embedrec::limits {
namespace {

struct Backend {
  const char* name;
  std::function<std::unique_ptr<LimitStore>()> open;
  std::function<bool()> available = [] { return true; };
};

void PrintTo(const Backend& b, std::ostream* os) { *os << b.name; }

const Backend kBackends[] = {
    {"memory", [] { return NewMemoryLimitStore(); }},
    {"redis", [] { return std::move(OpenRedisLimitStore(*testing::LocalService("EMBEDREC_TEST_REDIS_URL"))).value(); },
     [] { return testing::LocalService("EMBEDREC_TEST_REDIS_URL").has_value(); }},
};

class LimitStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (!GetParam().available()) GTEST_SKIP() << GetParam().name << " is not running (see tests/local_services.h)";
    store_ = GetParam().open();
  }
  // Keys of this test only (a shared server keeps other tests' keys).
  std::string Key(const std::string& k) { return prefix_ + k; }
  std::string prefix_ = "test:" + NewUuid() + ":";
  std::unique_ptr<LimitStore> store_;
};

TEST_P(LimitStoreTest, ABucketAllowsItsBurstThenItsRate) {
  const BucketPolicy p{.per_second = 10, .burst = 3};
  const int64_t t0 = 1'700'000'000'000;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(store_->Take(Key("k"), p, t0)->allowed()) << i;
  auto refused = store_->Take(Key("k"), p, t0);
  ASSERT_OK(refused);
  EXPECT_FALSE(refused->allowed());
  EXPECT_EQ(refused->retry_after_ms, 100);  // one token per 100 ms
  EXPECT_FALSE(store_->Take(Key("k"), p, t0 + 50)->allowed());
  EXPECT_TRUE(store_->Take(Key("k"), p, t0 + 100)->allowed());
  EXPECT_TRUE(store_->Take(Key("other"), p, t0)->allowed());  // keys are independent
  // Idle for long: full again, never more than the burst.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(store_->Take(Key("k"), p, t0 + 60'000)->allowed()) << i;
  EXPECT_FALSE(store_->Take(Key("k"), p, t0 + 60'000)->allowed());
}

TEST_P(LimitStoreTest, SeveralTokensAtOnceAsManyAsTheBucketHolds) {
  const BucketPolicy p{.per_second = 10, .burst = 25};
  const int64_t t0 = 1'700'000'000'000;
  auto ten = store_->Take(Key("k"), p, t0, 10);
  ASSERT_OK(ten);
  EXPECT_TRUE(ten->allowed());
  EXPECT_EQ(ten->granted, 10);
  EXPECT_EQ(store_->Take(Key("k"), p, t0, 10)->granted, 10);
  EXPECT_EQ(store_->Take(Key("k"), p, t0, 10)->granted, 5);  // what was left
  auto none = store_->Take(Key("k"), p, t0, 10);
  EXPECT_FALSE(none->allowed());
  EXPECT_EQ(none->granted, 0);
  EXPECT_EQ(none->retry_after_ms, 100);
}

TEST_P(LimitStoreTest, TakersAtOnceGetExactlyTheBurst) {
  const BucketPolicy p{.per_second = 0.001, .burst = 50};
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 30; ++i) {
        auto r = store_->Take(Key("shared"), p, 1'700'000'000'000);
        if (r.ok() && r->allowed()) ++allowed;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 50);
}

TEST_P(LimitStoreTest, FailuresLockOutWithADoublingLockoutAndSuccessClears) {
  const FailurePolicy p{.max_failures = 3, .window_ms = 600'000, .base_lockout_ms = 30'000, .max_lockout_ms = 100'000};
  const int64_t t0 = 1'700'000'000'000;
  EXPECT_EQ(*store_->Fail(Key("a"), p, t0), 0);
  EXPECT_EQ(*store_->Fail(Key("a"), p, t0 + 1), 0);
  EXPECT_EQ(*store_->LockedUntil(Key("a"), t0 + 2), 0);
  EXPECT_EQ(*store_->Fail(Key("a"), p, t0 + 2), t0 + 2 + 30'000);
  EXPECT_EQ(*store_->LockedUntil(Key("a"), t0 + 10), t0 + 2 + 30'000);
  EXPECT_EQ(*store_->Fail(Key("a"), p, t0 + 3), t0 + 3 + 60'000);    // doubled
  EXPECT_EQ(*store_->Fail(Key("a"), p, t0 + 4), t0 + 4 + 100'000);   // capped
  EXPECT_EQ(*store_->LockedUntil(Key("a"), t0 + 4 + 100'000), 0);    // over
  EXPECT_EQ(*store_->LockedUntil(Key("b"), t0), 0);
  ASSERT_OK(store_->Clear(Key("a")));
  EXPECT_EQ(*store_->LockedUntil(Key("a"), t0 + 5), 0);
  EXPECT_EQ(*store_->Fail(Key("a"), p, t0 + 6), 0);  // counting again from one
}

TEST_P(LimitStoreTest, FailuresOutsideTheWindowStartItAgain) {
  const FailurePolicy p{.max_failures = 2, .window_ms = 60'000, .base_lockout_ms = 30'000, .max_lockout_ms = 900'000};
  const int64_t t0 = 1'700'000'000'000;
  EXPECT_EQ(*store_->Fail(Key("a"), p, t0), 0);
  EXPECT_EQ(*store_->Fail(Key("a"), p, t0 + 61'000), 0);  // the first fell out of the window
  EXPECT_GT(*store_->Fail(Key("a"), p, t0 + 62'000), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, LimitStoreTest, ::testing::ValuesIn(kBackends),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(MemoryLimitStoreTest, PruningToItsBoundKeepsTheNewestKeys) {
  auto store = NewMemoryLimitStore(100);
  const FailurePolicy p{.max_failures = 5, .window_ms = 1000};
  for (int i = 0; i < 1000; ++i) {
    ASSERT_OK(store->Fail("user" + std::to_string(i), p, 1'000'000 + 10 * i));
    ASSERT_OK(store->Take("key" + std::to_string(i), {1, 1}, 1'000'000 + 10 * i));
  }
  // Pruned to 100 keys, the newest bucket is still the one it was (spent, not a fresh full one).
  EXPECT_TRUE(store->Take("key999", {1, 1}, 1'010'000)->allowed() == false);
}

// A shared store that fails: the local one answers (limits count per node
// meanwhile); the shared one is tried again after a second.
class FailingStore final : public LimitStore {
 public:
  std::atomic<int> calls{0};
  StatusOr<Taken> Take(const std::string&, const BucketPolicy&, int64_t, int) override { return Down(); }
  StatusOr<int64_t> Fail(const std::string&, const FailurePolicy&, int64_t) override { return Down(); }
  StatusOr<int64_t> LockedUntil(const std::string&, int64_t) override { return Down(); }
  Status Clear(const std::string&) override { return Down(); }

 private:
  Status Down() {
    ++calls;
    return Status::Unavailable("down");
  }
};

TEST(LimitFallbackTest, TheLocalStoreAnswersWhileTheSharedOneIsDown) {
  auto failing = std::make_unique<FailingStore>();
  FailingStore* shared = failing.get();
  auto store = WithLocalFallback(std::move(failing), NewMemoryLimitStore());
  const BucketPolicy p{.per_second = 1, .burst = 2};
  EXPECT_TRUE(store->Take("k", p, 0)->allowed());
  EXPECT_TRUE(store->Take("k", p, 0)->allowed());
  EXPECT_FALSE(store->Take("k", p, 0)->allowed());
  EXPECT_EQ(shared->calls.load(), 1);  // not asked again within the second
}

TEST(LimitBatchesTest, HighLimitsAreFetchedInBatchesAndNeverAdmitMoreThanABatchPerNodeOver) {
  auto owned = NewMemoryLimitStore();
  LimitStore* shared = owned.get();
  struct Borrowed final : LimitStore {  // two "nodes" over one shared store
    LimitStore* s;
    explicit Borrowed(LimitStore* s) : s(s) {}
    StatusOr<Taken> Take(const std::string& k, const BucketPolicy& p, int64_t n, int w) override {
      ++calls;
      return s->Take(k, p, n, w);
    }
    StatusOr<int64_t> Fail(const std::string& k, const FailurePolicy& p, int64_t n) override { return s->Fail(k, p, n); }
    StatusOr<int64_t> LockedUntil(const std::string& k, int64_t n) override { return s->LockedUntil(k, n); }
    Status Clear(const std::string& k) override { return s->Clear(k); }
    int calls = 0;
  };
  auto b1 = std::make_unique<Borrowed>(shared);
  auto b2 = std::make_unique<Borrowed>(shared);
  Borrowed* r1 = b1.get();
  auto node1 = WithLocalBatches(std::move(b1));
  auto node2 = WithLocalBatches(std::move(b2));
  const BucketPolicy p{.per_second = 1000, .burst = 1000};  // batches of 50
  const int64_t t0 = 1'700'000'000'000;
  int admitted = 0;
  for (int i = 0; i < 2000; ++i) {
    if ((i % 2 ? node1 : node2)->Take("k", p, t0)->allowed()) ++admitted;
  }
  EXPECT_GE(admitted, 1000 - 2 * 50);
  EXPECT_LE(admitted, 1000);
  EXPECT_LE(r1->calls, 1000 / 50 + 2 + 1000);
  // A low limit is exact: token by token.
  const BucketPolicy low{.per_second = 2, .burst = 3};
  int low_admitted = 0;
  for (int i = 0; i < 10; ++i) {
    if ((i % 2 ? node1 : node2)->Take("low", low, t0)->allowed()) ++low_admitted;
  }
  EXPECT_EQ(low_admitted, 3);
  // Unspent tokens lapse after 100 ms (counted as spent, never admitted late).
  const BucketPolicy q{.per_second = 200, .burst = 100};  // batches of 10
  EXPECT_TRUE(node1->Take("q", q, t0)->allowed());           // fetched 10, spent 1
  EXPECT_EQ(shared->Take("q", q, t0, 1000)->granted, 90);  // the rest of the bucket
  // 9 lapsed: a new batch from the 20 refilled, sized by what was spent
  // (1): a quarter more, plus one.
  EXPECT_TRUE(node1->Take("q", q, t0 + 101)->allowed());
  EXPECT_EQ(shared->Take("q", q, t0 + 101, 1000)->granted, 18);
}

// A shared store that counts the tokens it hands out, each take a round trip.
struct SlowCounting final : LimitStore {
  std::unique_ptr<LimitStore> s = NewMemoryLimitStore();
  std::atomic<int64_t> handed{0};
  std::atomic<int> calls{0};
  StatusOr<Taken> Take(const std::string& k, const BucketPolicy& p, int64_t n, int w) override {
    ++calls;
    std::this_thread::sleep_for(std::chrono::microseconds(300));
    auto t = s->Take(k, p, n, w);
    if (t.ok()) handed += t->granted;
    return t;
  }
  StatusOr<int64_t> Fail(const std::string& k, const FailurePolicy& p, int64_t n) override { return s->Fail(k, p, n); }
  StatusOr<int64_t> LockedUntil(const std::string& k, int64_t n) override { return s->LockedUntil(k, n); }
  Status Clear(const std::string& k) override { return s->Clear(k); }
};

TEST(LimitBatchesTest, ThreadsRefillingOneKeyAtOnceDrawOneBatch) {
  auto owned = std::make_unique<SlowCounting>();
  SlowCounting* shared = owned.get();
  auto node = WithLocalBatches(std::move(owned));
  const BucketPolicy p{.per_second = 50000, .burst = 100000};  // batches of up to 2,500
  const int64_t t0 = 1'700'000'000'000;
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        if (node->Take("k", p, t0)->allowed()) ++admitted;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(admitted.load(), 16000);  // far under the burst: nothing refused
  // Drawn from the shared bucket: what was admitted and at most the last
  // batch's rest (eight threads each fetching their own batch drew ~8×).
  EXPECT_LE(shared->handed.load(), 16000 + 2500);
}

TEST(LimitBatchesTest, ARefusalIsKeptUntilATokenIsBackWithoutAskingAgain) {
  auto owned = std::make_unique<SlowCounting>();
  SlowCounting* shared = owned.get();
  auto node = WithLocalBatches(std::move(owned));
  const BucketPolicy p{.per_second = 1000, .burst = 1000};  // batches of up to 50
  const int64_t t0 = 1'700'000'000'000;
  ASSERT_EQ(shared->s->Take("k", p, t0, 1000)->granted, 1000);  // another node emptied the bucket
  auto refused = node->Take("k", p, t0);
  ASSERT_OK(refused);
  EXPECT_FALSE(refused->allowed());
  EXPECT_GT(refused->retry_after_ms, 0);
  auto calls_before = shared->calls.load();
  for (int i = 0; i < 20; ++i) {  // within the wait the bucket named: refused here
    auto again = node->Take("k", p, t0);
    EXPECT_FALSE(again->allowed());
    EXPECT_EQ(again->retry_after_ms, refused->retry_after_ms);
  }
  EXPECT_EQ(shared->calls.load(), calls_before);
  EXPECT_TRUE(node->Take("k", p, t0 + refused->retry_after_ms)->allowed());  // a token is back: asked again
}

TEST(LimitBatchesTest, ANodeThatSpendsLittleDrawsLittle) {
  auto owned = std::make_unique<SlowCounting>();
  SlowCounting* shared = owned.get();
  auto node = WithLocalBatches(std::move(owned));
  const BucketPolicy p{.per_second = 50000, .burst = 100000};
  const int64_t t0 = 1'700'000'000'000;
  for (int w = 0; w < 30; ++w) {  // three requests every 150 ms: the rest of each batch lapses
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(node->Take("k", p, t0 + w * 150 + i)->allowed());
  }
  // The first batch is a full one; then about what each window spent.
  EXPECT_LE(shared->handed.load(), 2500 + 30 * 5);
}

TEST(RedisLimitStoreTest, AServerThatDoesNotAnswerIsUnavailable) {
  EXPECT_EQ(OpenRedisLimitStore("redis://127.0.0.1:1").status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace embedrec::limits
