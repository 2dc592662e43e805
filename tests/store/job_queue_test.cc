// The job queue's contract (store/job_queue.h), one suite every backend
// must pass: add a backend to kBackends.
#include "store/job_queue.h"

#include <atomic>
#include <set>
#include <thread>

#include "local_services.h"
#include "test_util.h"

namespace embedrec::store {
namespace {

struct Backend {
  const char* name;
  // A new, empty queue (and a second handle on the same queue, as another node has).
  std::function<std::pair<std::shared_ptr<JobQueue>, std::shared_ptr<JobQueue>>()> open;
  std::function<bool()> available = [] { return true; };
};

void PrintTo(const Backend& b, std::ostream* os) { *os << b.name; }

const Backend kBackends[] = {
    {"memory",
     [] {
       std::shared_ptr<JobQueue> q = NewMemoryJobQueue();
       return std::make_pair(q, q);
     }},
    {"postgres",
     [] {
       const std::string url = *testing::LocalService("EMBEDREC_TEST_DATABASE_URL");
       const std::string schema = "test_jobs_" + NewUuid().substr(0, 8);
       std::shared_ptr<JobQueue> a = std::move(OpenPostgresJobQueue(url, schema)).value();
       std::shared_ptr<JobQueue> b = std::move(OpenPostgresJobQueue(url, schema)).value();
       return std::make_pair(a, b);
     },
     [] { return testing::LocalService("EMBEDREC_TEST_DATABASE_URL").has_value(); }},
};

class JobQueueTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (!GetParam().available()) GTEST_SKIP() << GetParam().name << " is not running (see tests/local_services.h)";
    std::tie(a_, b_) = GetParam().open();
  }
  std::shared_ptr<JobQueue> a_, b_;  // two nodes' handles on one queue
};

TEST_P(JobQueueTest, OneJobPerTenantOldestClaimedFirst) {
  ASSERT_OK(a_->Enqueue("t1", "job_b", "", 2000, 1000));
  ASSERT_OK(a_->Enqueue("t2", "job_a", "", 1000, 1000));
  EXPECT_EQ(b_->Enqueue("t1", "job_c", "", 3000, 1000).code(), StatusCode::kAlreadyExists);
  auto of = b_->OfTenant("t1");
  ASSERT_OK(of);
  ASSERT_TRUE(of->has_value());
  EXPECT_EQ((*of)->job_id, "job_b");
  EXPECT_EQ(*a_->WaitingAhead("job_b"), 1);

  auto first = b_->Claim("node-b", 5000, 1000);
  ASSERT_OK(first);
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->job_id, "job_a");  // queued first
  EXPECT_EQ((*first)->holder, "node-b");
  EXPECT_EQ((*first)->lease_until_ms, 6000);
  EXPECT_EQ((*first)->attempts, 1);
  EXPECT_EQ(*a_->WaitingAhead("job_b"), 0);
  auto second = a_->Claim("node-a", 5000, 1000);
  ASSERT_OK(second);
  ASSERT_TRUE(second->has_value());
  EXPECT_EQ((*second)->job_id, "job_b");
  auto none = a_->Claim("node-a", 5000, 1000);
  ASSERT_OK(none);
  EXPECT_FALSE(none->has_value());

  ASSERT_OK(a_->Remove("job_b", "node-b"));  // not node-b's: stays
  EXPECT_TRUE(b_->Get("job_b")->has_value());
  ASSERT_OK(a_->Remove("job_b", "node-a"));
  ASSERT_OK(a_->Remove("job_b", "node-a"));  // gone already: fine
  EXPECT_FALSE(b_->Get("job_b")->has_value());
  ASSERT_OK(b_->Enqueue("t1", "job_c", "", 6000, 1000));  // the tenant's next job
}

TEST_P(JobQueueTest, ALeaseNotRenewedIsClaimedAgainAndTheFormerHolderLosesIt) {
  ASSERT_OK(a_->Enqueue("t1", "job_1", "node-a", 1000, 1000));  // the submitting node holds it
  EXPECT_FALSE(b_->Claim("node-b", 1500, 1000)->has_value());
  auto renewed = a_->Renew("node-a", 1900, 1000);
  ASSERT_OK(renewed);
  ASSERT_EQ(renewed->size(), 1u);
  EXPECT_EQ((*renewed)[0].lease_until_ms, 2900);
  EXPECT_FALSE(b_->Claim("node-b", 2800, 1000)->has_value());
  // node-a stops renewing: after its lease, node-b takes the job (a second attempt).
  auto retry = b_->Claim("node-b", 2901, 1000);
  ASSERT_OK(retry);
  ASSERT_TRUE(retry->has_value());
  EXPECT_EQ((*retry)->attempts, 2);
  EXPECT_EQ((*retry)->holder, "node-b");
  EXPECT_TRUE(a_->Renew("node-a", 3000, 1000)->empty());  // node-a learns it lost the job
  EXPECT_EQ(a_->Release("job_1", "node-a").code(), StatusCode::kNotFound);
}

TEST_P(JobQueueTest, AReleasedJobWaitsForAnyNode) {
  ASSERT_OK(a_->Enqueue("t1", "job_1", "node-a", 1000, 60'000));
  ASSERT_OK(a_->Release("job_1", "node-a"));
  auto q = b_->Get("job_1");
  ASSERT_TRUE(q->has_value());
  EXPECT_EQ((*q)->holder, "");
  auto c = b_->Claim("node-b", 1001, 60'000);
  ASSERT_TRUE(c->has_value());
  EXPECT_EQ((*c)->job_id, "job_1");
}

TEST_P(JobQueueTest, CancelRemovesAWaitingJobAndFlagsAHeldOne) {
  ASSERT_OK(a_->Enqueue("t1", "job_1", "", 1000, 1000));
  ASSERT_OK(a_->Enqueue("t2", "job_2", "node-a", 1000, 1000));
  EXPECT_EQ(*b_->RequestCancel("job_1"), CancelOutcome::kRemoved);
  EXPECT_FALSE(a_->Get("job_1")->has_value());
  EXPECT_EQ(*b_->RequestCancel("job_2"), CancelOutcome::kFlagged);
  auto held = a_->Renew("node-a", 1500, 1000);
  ASSERT_EQ(held->size(), 1u);
  EXPECT_TRUE((*held)[0].cancel_requested);
  EXPECT_EQ(*b_->RequestCancel("job_9"), CancelOutcome::kAbsent);
}

TEST_P(JobQueueTest, NodesClaimingAtOnceNeverShareAJob) {
  constexpr int kJobs = 40;
  for (int i = 0; i < kJobs; ++i) {
    ASSERT_OK(a_->Enqueue("t" + std::to_string(i), "job_" + std::to_string(i), "", 1000 + i, 60'000));
  }
  std::mutex mu;
  std::multiset<std::string> claimed;
  std::vector<std::thread> nodes;
  for (int n = 0; n < 4; ++n) {
    nodes.emplace_back([&, n] {
      JobQueue* q = n % 2 ? b_.get() : a_.get();
      while (true) {
        auto c = q->Claim("node-" + std::to_string(n), 2000, 60'000);
        if (!c.ok() || !c->has_value()) return;
        std::lock_guard lock(mu);
        claimed.insert((*c)->job_id);
      }
    });
  }
  for (auto& t : nodes) t.join();
  EXPECT_EQ(claimed.size(), static_cast<size_t>(kJobs));
  for (const auto& id : claimed) EXPECT_EQ(claimed.count(id), 1u) << id;
}

INSTANTIATE_TEST_SUITE_P(Backends, JobQueueTest, ::testing::ValuesIn(kBackends),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace embedrec::store
