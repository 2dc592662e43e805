// The Kafka subscriber (events/event_subscriber.h), over librdkafka's
// consumer: a consumer group of this node's own (every partition comes to
// it), starting at the newest message, offsets never committed (a node that
// restarts reads what it needs from the database), polled by one thread.
#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <thread>

#include "events/event_relay.h"
#include "events/event_subscriber.h"
#include "events/kafka/kafka_common.h"

namespace embedrec::events {
namespace {

class KafkaSubscriber final : public EventSubscriber {
 public:
  KafkaSubscriber(rd_kafka_t* rk, KafkaUrl url) : rk_(rk), url_(std::move(url)) {}
  ~KafkaSubscriber() override {
    Stop();
    rd_kafka_destroy(rk_);
  }

  Status Start(const std::vector<std::string>& topics, std::function<void(const ConsumedEvent&)> fn) override {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(topics.size()));
    for (const auto& t : topics) rd_kafka_topic_partition_list_add(list, url_.Topic(t).c_str(), RD_KAFKA_PARTITION_UA);
    const rd_kafka_resp_err_t err = rd_kafka_subscribe(rk_, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) return Status::Unavailable(std::string("Kafka subscribe: ") + rd_kafka_err2str(err));
    fn_ = std::move(fn);
    thread_ = std::thread([this] { Loop(); });
    return Status::Ok();
  }

  void Stop() override {
    if (!thread_.joinable()) return;
    stop_ = true;
    thread_.join();
    rd_kafka_consumer_close(rk_);
  }

 private:
  void Loop() {
    while (!stop_) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 200);
      if (!m) continue;
      if (m->err) {
        // A topic nobody published to yet, a broker restarting: retried by librdkafka.
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && m->err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
          spdlog::debug("Kafka consumer: {}", rd_kafka_message_errstr(m));
        }
      } else {
        ConsumedEvent e;
        const std::string_view value(static_cast<const char*>(m->payload), m->len);
        if (ParsePublishedEvent(value, &e)) fn_(e);
      }
      rd_kafka_message_destroy(m);
    }
  }

  rd_kafka_t* rk_;
  const KafkaUrl url_;
  std::function<void(const ConsumedEvent&)> fn_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

StatusOr<std::unique_ptr<EventSubscriber>> OpenKafkaSubscriber(const std::string& url, const std::string& node) {
  ASSIGN_OR_RETURN(KafkaUrl p, ParseKafkaUrl(url));
  ASSIGN_OR_RETURN(rd_kafka_conf_t * conf,
                   NewKafkaConf({{"bootstrap.servers", p.brokers},
                                 {"group.id", "embedrec-node-" + node},
                                 {"auto.offset.reset", "latest"},
                                 {"enable.auto.commit", "false"},
                                 {"enable.auto.offset.store", "false"},
                                 // A topic made after the start is found within a second,
                                 // and a message waits at most 100 ms at the broker.
                                 {"topic.metadata.refresh.interval.ms", "1000"},
                                 {"fetch.wait.max.ms", "100"},
                                 {"allow.auto.create.topics", "true"}}));
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));  // owns conf from here
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return Status::InvalidArgument(std::string("Kafka: ") + err);
  }
  rd_kafka_poll_set_consumer(rk);
  return std::unique_ptr<EventSubscriber>(new KafkaSubscriber(rk, std::move(p)));
}

}  // namespace embedrec::events
