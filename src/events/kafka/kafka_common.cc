#include "events/kafka/kafka_common.h"

#include <librdkafka/rdkafka.h>

#include <cctype>

namespace embedrec::events {

StatusOr<KafkaUrl> ParseKafkaUrl(const std::string& url) {
  constexpr std::string_view kScheme = "kafka://";
  if (url.rfind(kScheme, 0) != 0) return Status::InvalidArgument("not a kafka://host:port[,host:port…][/prefix] URL");
  std::string rest = url.substr(kScheme.size());
  KafkaUrl p;
  const size_t slash = rest.find('/');
  p.brokers = rest.substr(0, slash);
  if (slash != std::string::npos) p.prefix = rest.substr(slash + 1);
  while (!p.prefix.empty() && p.prefix.back() == '/') p.prefix.pop_back();
  if (p.brokers.empty()) return Status::InvalidArgument("the Kafka URL names no broker");
  for (char c : p.prefix) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) {
      return Status::InvalidArgument("a Kafka topic prefix takes letters, digits, '.', '_' and '-'");
    }
  }
  return p;
}

StatusOr<rd_kafka_conf_s*> NewKafkaConf(const std::vector<std::pair<std::string, std::string>>& settings) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto all = settings;
  all.emplace_back("log_level", "3");  // errors only: a broker restart is retried, not news
  for (const auto& [k, v] : all) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return Status::InvalidArgument("Kafka setting " + k + ": " + err);
    }
  }
  return conf;
}

}  // namespace embedrec::events
