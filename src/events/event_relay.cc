#include "events/event_relay.h"

#include <spdlog/spdlog.h>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include "common/json_text.h"
#include "common/time_format.h"

namespace embedrec::events {
namespace {
constexpr const char* kPosition = "events-published";
}

EventRelay::EventRelay(store::TenantStores* stores, ListTenants list, EventPublisher* publisher, const Clock* clock,
                       RelayOptions options)
    : stores_(stores), list_(std::move(list)), publisher_(publisher), clock_(clock), options_(options) {}

EventRelay::~EventRelay() { Stop(); }

void EventRelay::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void EventRelay::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EventRelay::MarkDirty(const std::string& tenant_id) {
  std::lock_guard lock(mu_);
  dirty_.insert(tenant_id);
}

StatusOr<int64_t> PublishedThrough(store::TenantStore& store) {
  auto at = store.GetSnapshot(kPosition);
  if (at.ok()) return at->position;
  if (at.status().code() == StatusCode::kNotFound) return int64_t{0};
  return at.status();
}

bool ParsePublishedEvent(std::string_view value, ConsumedEvent* out) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(value, ec);
  if (ec || !v.is_object()) return false;
  const auto& o = v.as_object();
  const auto* tenant = o.if_contains("tenant_id");
  const auto* topic = o.if_contains("topic");
  const auto* seq = o.if_contains("seq");
  const auto* payload = o.if_contains("payload");
  if (!tenant || !tenant->is_string() || !topic || !topic->is_string() || !seq || !seq->is_int64() || !payload) {
    return false;
  }
  out->tenant_id = std::string(tenant->as_string());
  out->topic = std::string(topic->as_string());
  out->seq = seq->as_int64();
  out->payload = payload->is_string() ? std::string(payload->as_string()) : JsonText(*payload);
  return true;
}

Status EventRelay::Relay(const std::string& tenant_id) {
  ASSIGN_OR_RETURN(auto store, stores_->Open(tenant_id));
  int64_t position = 0;
  if (auto at = store->GetSnapshot(kPosition); at.ok()) {
    position = at->position;
  } else if (at.status().code() != StatusCode::kNotFound) {
    return at.status();
  }
  while (true) {
    ASSIGN_OR_RETURN(auto events, store->ReadEvents(position, options_.batch));
    if (events.empty()) return Status::Ok();
    std::vector<PublishedEvent> out;
    out.reserve(events.size());
    for (const auto& e : events) {
      boost::system::error_code ec;
      boost::json::value payload = boost::json::parse(e.payload_json, ec);
      if (ec) payload = boost::json::string(e.payload_json);
      boost::json::object v{{"tenant_id", tenant_id},
                            {"seq", e.seq},
                            {"topic", e.topic},
                            {"created_at", FormatRfc3339Millis(e.created_at_ms)},
                            {"payload", std::move(payload)}};
      out.push_back({e.topic, tenant_id, JsonText(v)});
    }
    RETURN_IF_ERROR(publisher_->Publish(out));
    position = events.back().seq;
    RETURN_IF_ERROR(store->PutSnapshot(kPosition, position, "", clock_->NowMillis()));
    published_ += static_cast<int64_t>(events.size());
    if (static_cast<int>(events.size()) < options_.batch) return Status::Ok();
  }
}

void EventRelay::Loop() {
  auto next_sweep = std::chrono::steady_clock::now();
  std::unique_lock lock(mu_);
  while (true) {
    const bool stopping = stopping_;
    std::set<std::string> work;
    work.swap(dirty_);
    lock.unlock();
    if (!stopping && std::chrono::steady_clock::now() >= next_sweep) {
      auto all = list_();
      if (all.ok()) work.insert(all->begin(), all->end());
      next_sweep = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.sweep_ms);
    }
    std::set<std::string> again;
    for (const auto& tid : work) {
      Status s = Relay(tid);
      if (!s.ok() && s.code() != StatusCode::kNotFound) {
        spdlog::warn("tenant {}: events not published to {}: {}", tid, publisher_->Describe(), s.ToString());
        again.insert(tid);
      }
    }
    lock.lock();
    if (stopping) return;
    dirty_.insert(again.begin(), again.end());
    cv_.wait_for(lock, std::chrono::milliseconds(again.empty() ? options_.tick_ms : 1000),
                 [&] { return stopping_; });
  }
}

}  // namespace embedrec::events
