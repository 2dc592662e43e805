// The event relay over a real embedded store and a publisher that records
// (and, when told to, refuses) what it is given.
#include "events/event_relay.h"

#include <boost/json/parse.hpp>
#include <chrono>
#include <mutex>
#include <thread>

#include "common/random.h"
#include "local_services.h"
#include "test_util.h"

namespace embedrec::events {
namespace {

class RecordingPublisher final : public EventPublisher {
 public:
  Status Publish(const std::vector<PublishedEvent>& events) override {
    std::lock_guard lock(mu);
    ++calls;
    if (down) return Status::Unavailable("broker down");
    got.insert(got.end(), events.begin(), events.end());
    return Status::Ok();
  }
  std::string Describe() const override { return "recorder"; }
  size_t Count() {
    std::lock_guard lock(mu);
    return got.size();
  }
  std::mutex mu;
  std::vector<PublishedEvent> got;
  bool down = false;
  int calls = 0;
};

class EventRelayTest : public ::testing::Test {
 protected:
  void SetUp() override { stores_ = store::NewSqliteTenantStores(dir_.Sub("tenants")); }
  std::string Tenant(int events) {
    std::string id = NewUuid();
    EXPECT_OK(stores_->Create(id));
    Append(id, events);
    return id;
  }
  void Append(const std::string& id, int events) {
    auto batch = (*stores_->Open(id))->BeginImport();
    for (int i = 0; i < events; ++i) {
      EXPECT_OK((*batch)->AppendEvent("item-catalog-updated", "{\"n\":" + std::to_string(i) + "}", 1000 + i));
    }
    EXPECT_OK((*batch)->Commit());
  }
  EventRelay Relay(RelayOptions o = {}) {
    return EventRelay(stores_.get(), [this] { return StatusOr<std::vector<std::string>>(tenants_); }, &publisher_,
                      &clock_, o);
  }
  testing::TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<store::TenantStores> stores_;
  RecordingPublisher publisher_;
  std::vector<std::string> tenants_;
};

TEST_F(EventRelayTest, PublishesEachEventOnceInOrderInBatchesAndRemembersWhereItStopped) {
  std::string t = Tenant(25);
  auto relay = Relay({.batch = 10});
  ASSERT_OK(relay.Relay(t));
  ASSERT_EQ(publisher_.got.size(), 25u);
  EXPECT_EQ(publisher_.calls, 3);  // 10 + 10 + 5
  int64_t last = 0;
  for (const auto& e : publisher_.got) {
    EXPECT_EQ(e.topic, "item-catalog-updated");
    EXPECT_EQ(e.key, t);
    auto v = boost::json::parse(e.value).as_object();
    EXPECT_EQ(v["tenant_id"].as_string(), t);
    EXPECT_GT(v["seq"].as_int64(), last);
    last = v["seq"].as_int64();
    EXPECT_TRUE(v["payload"].is_object());
  }
  ASSERT_OK(relay.Relay(t));
  EXPECT_EQ(publisher_.got.size(), 25u);  // nothing new
  Append(t, 2);
  auto again = Relay();  // a new relay (a restart) starts where the last one stopped
  ASSERT_OK(again.Relay(t));
  EXPECT_EQ(publisher_.got.size(), 27u);
}

TEST_F(EventRelayTest, WhatTheBrokerRefusedIsPublishedWhenItIsBack) {
  std::string t = Tenant(3);
  publisher_.down = true;
  auto relay = Relay();
  EXPECT_EQ(relay.Relay(t).code(), StatusCode::kUnavailable);
  publisher_.down = false;
  ASSERT_OK(relay.Relay(t));
  EXPECT_EQ(publisher_.got.size(), 3u);
}

TEST_F(EventRelayTest, TheThreadPublishesDirtyTenantsAndSweepsTheRest) {
  std::string marked = Tenant(2);
  std::string swept = Tenant(3);
  tenants_ = {marked, swept};
  auto relay = Relay({.tick_ms = 10, .sweep_ms = 3'600'000});
  relay.Start();  // a first sweep at once
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (publisher_.Count() < 5 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(publisher_.Count(), 5u);
  Append(marked, 4);
  relay.MarkDirty(marked);  // no sweep for an hour: only the mark brings it
  while (publisher_.Count() < 9 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(publisher_.Count(), 9u);
  relay.Stop();
}

TEST_F(EventRelayTest, APublishedMessageParsesBackIntoItsEvent) {
  const std::string id = Tenant(2);
  tenants_ = {id};
  auto relay = Relay();
  ASSERT_OK(relay.Relay(id));
  ASSERT_EQ(publisher_.got.size(), 2u);
  ConsumedEvent e;
  ASSERT_TRUE(ParsePublishedEvent(publisher_.got[1].value, &e));
  EXPECT_EQ(e.tenant_id, id);
  EXPECT_EQ(e.topic, "item-catalog-updated");
  EXPECT_GT(e.seq, 0);
  EXPECT_EQ(boost::json::parse(e.payload), boost::json::parse("{\"n\":1}"));
  EXPECT_FALSE(ParsePublishedEvent("not json", &e));
  EXPECT_FALSE(ParsePublishedEvent("{\"tenant_id\":\"t\"}", &e));
}

// A subscriber reads what a publisher sends to the same prefix (a real broker).
TEST(KafkaSubscriberTest, ReadsWhatIsPublishedAfterItStarts) {
  auto brokers = testing::LocalService("EMBEDREC_TEST_KAFKA_BROKERS");
  if (!brokers) GTEST_SKIP() << "Kafka is not running (see tests/local_services.h)";
  const std::string url = "kafka://" + *brokers + "/unit-" + RandomBase62(8);
  auto publisher = OpenKafkaPublisher(url);
  ASSERT_OK(publisher);
  auto subscriber = OpenKafkaSubscriber(url, "unit-" + RandomBase62(6));
  ASSERT_OK(subscriber);
  std::mutex mu;
  std::vector<ConsumedEvent> got;
  ASSERT_OK((*subscriber)->Start({"user-interactions"}, [&](const ConsumedEvent& e) {
    std::lock_guard lock(mu);
    got.push_back(e);
  }));
  auto message = [](const std::string& user, int64_t seq) {
    return PublishedEvent{"user-interactions", "t1",
                          "{\"tenant_id\":\"t1\",\"seq\":" + std::to_string(seq) +
                              ",\"topic\":\"user-interactions\",\"created_at\":\"x\",\"payload\":{\"user_id\":\"" +
                              user + "\"}}"};
  };
  auto count = [&] {
    std::lock_guard lock(mu);
    return got.size();
  };
  // Until the subscription has the topic (made by the first publish), pings.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (int64_t seq = 1; count() == 0; ++seq) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "nothing read within 30 s";
    ASSERT_OK((*publisher)->Publish({message("ping", seq)}));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // paces the pings, not a synchronisation
  }
  const size_t before = count();
  ASSERT_OK((*publisher)->Publish({message("real", 1000)}));
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until) {
    {
      std::lock_guard lock(mu);
      if (!got.empty() && got.back().seq == 1000) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  (*subscriber)->Stop();
  std::lock_guard lock(mu);
  ASSERT_GT(got.size(), before);
  EXPECT_EQ(got.back().tenant_id, "t1");
  EXPECT_EQ(got.back().topic, "user-interactions");
  EXPECT_EQ(got.back().seq, 1000);
  EXPECT_EQ(boost::json::parse(got.back().payload), boost::json::parse("{\"user_id\":\"real\"}"));
}

TEST(KafkaPublisherTest, BadUrlsAndABrokerThatDoesNotAnswer) {
  EXPECT_EQ(OpenKafkaPublisher("http://x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenKafkaPublisher("kafka:///prefix").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenKafkaPublisher("kafka://127.0.0.1:9092/bad prefix").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenKafkaPublisher("kafka://127.0.0.1:1").status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace embedrec::events
