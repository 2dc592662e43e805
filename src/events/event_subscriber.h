// Other nodes' events read back from where they were published (Kafka, in
// the scale-out mode with EMBEDREC_EVENTS_URL): a serving node applies the
// interactions the others tracked to its real-time state, and drops a
// tenant's models when a new version was deployed elsewhere. Each node reads
// every partition on its own (a consumer group of its own), from the
// newest message on: what it needs from before is read from the database.
//
// Thread safety: Start and Stop from one thread; `fn` runs on the
// subscriber's thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace embedrec::events {

// A message as the relay published it (event_relay.h).
struct ConsumedEvent {
  std::string tenant_id, topic;  // the log's topic, without a prefix
  int64_t seq = 0;
  std::string payload;  // the event's JSON
};

class EventSubscriber {
 public:
  virtual ~EventSubscriber() = default;
  // Calls `fn` for each event of the log topics `topics` published from now on.
  virtual Status Start(const std::vector<std::string>& topics, std::function<void(const ConsumedEvent&)> fn) = 0;
  virtual void Stop() = 0;  // no call of fn after it returns
};

// `url` as OpenKafkaPublisher's; `node` names this node's consumer group.
StatusOr<std::unique_ptr<EventSubscriber>> OpenKafkaSubscriber(const std::string& url, const std::string& node);

}  // namespace embedrec::events
