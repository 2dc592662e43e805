// What the Kafka publisher and subscriber share: the kafka:// URL and a
// librdkafka configuration built from settings.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

struct rd_kafka_conf_s;

namespace embedrec::events {

struct KafkaUrl {
  std::string brokers, prefix;
  // The topic an event of the log's `topic` goes to: "<prefix>.<topic>", or bare.
  std::string Topic(const std::string& topic) const { return prefix.empty() ? topic : prefix + "." + topic; }
};

// "kafka://host:port[,host:port…][/prefix]"; kInvalidArgument otherwise.
StatusOr<KafkaUrl> ParseKafkaUrl(const std::string& url);

// A configuration with `settings` (and errors-only logging); the caller owns
// it until rd_kafka_new takes it. kInvalidArgument for a bad setting.
StatusOr<rd_kafka_conf_s*> NewKafkaConf(const std::vector<std::pair<std::string, std::string>>& settings);

}  // namespace embedrec::events
