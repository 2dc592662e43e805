// Where the tenants' events go for consumers outside the platform (a shop's
// own systems, analytics pipelines): Kafka topics in the scale-out mode
// (EMBEDREC_EVENTS_URL=kafka://…). The events come from each tenant's event
// log (event_relay.h), written in the same transactions as the data.
//
// Thread safety: Publish is called from one thread at a time.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace embedrec::events {

struct PublishedEvent {
  std::string topic;  // the log's topic (item-catalog-updated, …); a publisher may prefix it
  std::string key;    // the tenant: one partition per tenant keeps its events in order
  std::string value;  // JSON
};

class EventPublisher {
 public:
  virtual ~EventPublisher() = default;
  // Returns once every event is acknowledged durable by the destination, in
  // order per key; an error otherwise (then some may have been published:
  // the caller publishes them again, and consumers drop repeats by
  // (tenant_id, seq)).
  virtual Status Publish(const std::vector<PublishedEvent>& events) = 0;
  // Where the events go (logs), without credentials.
  virtual std::string Describe() const = 0;
};

// "kafka://host:port[,host:port…][/prefix]": topics named "<prefix>.<topic>"
// (the bare topic without a prefix); an idempotent producer with acks=all.
// kInvalidArgument for a bad URL, kUnavailable when no broker answers at start.
StatusOr<std::unique_ptr<EventPublisher>> OpenKafkaPublisher(const std::string& url);

}  // namespace embedrec::events
