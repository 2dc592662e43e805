// The Kafka publisher (events/event_publisher.h), over librdkafka: an
// idempotent producer (acks=all, retries without duplicates or reordering
// within a session), each Publish flushed before it returns.
#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>

#include "events/event_publisher.h"
#include "events/kafka/kafka_common.h"

namespace embedrec::events {
namespace {

class KafkaPublisher final : public EventPublisher {
 public:
  KafkaPublisher(rd_kafka_t* rk, KafkaUrl p) : rk_(rk), p_(std::move(p)) {}
  ~KafkaPublisher() override {
    rd_kafka_flush(rk_, 10'000);
    rd_kafka_destroy(rk_);
  }

  Status Publish(const std::vector<PublishedEvent>& events) override {
    failed_ = 0;
    first_error_.clear();
    for (const auto& e : events) {
      const std::string topic = p_.Topic(e.topic);
      rd_kafka_resp_err_t err;
      while ((err = rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(topic.c_str()),
                                      RD_KAFKA_V_KEY(e.key.data(), e.key.size()),
                                      RD_KAFKA_V_VALUE(const_cast<char*>(e.value.data()), e.value.size()),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(this),
                                      RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(rk_, 50);  // the local queue is full: let deliveries drain
      }
      if (err) return Status::Unavailable(std::string("Kafka: ") + rd_kafka_err2str(err));
      rd_kafka_poll(rk_, 0);
    }
    if (rd_kafka_flush(rk_, 30'000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::Unavailable("Kafka: events not acknowledged within 30 s");
    }
    if (failed_ > 0) {
      std::lock_guard lock(mu_);
      return Status::Unavailable("Kafka: " + std::to_string(failed_.load()) + " events not delivered: " + first_error_);
    }
    return Status::Ok();
  }

  std::string Describe() const override {
    return "Kafka at " + p_.brokers + (p_.prefix.empty() ? "" : " (topics " + p_.prefix + ".*)");
  }

  static void Delivered(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    if (!m->err) return;
    auto* self = static_cast<KafkaPublisher*>(m->_private);
    ++self->failed_;
    std::lock_guard lock(self->mu_);
    if (self->first_error_.empty()) self->first_error_ = rd_kafka_err2str(m->err);
  }

 private:
  rd_kafka_t* rk_;
  KafkaUrl p_;
  std::atomic<int> failed_{0};
  std::mutex mu_;
  std::string first_error_;
};

}  // namespace

StatusOr<std::unique_ptr<EventPublisher>> OpenKafkaPublisher(const std::string& url) {
  ASSIGN_OR_RETURN(KafkaUrl p, ParseKafkaUrl(url));
  char err[512];
  ASSIGN_OR_RETURN(rd_kafka_conf_t * conf, NewKafkaConf({{"bootstrap.servers", p.brokers},
                                                        {"enable.idempotence", "true"},
                                                        {"acks", "all"},
                                                        {"linger.ms", "5"},
                                                        {"message.timeout.ms", "30000"}}));
  rd_kafka_conf_set_dr_msg_cb(conf, &KafkaPublisher::Delivered);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));  // owns conf from here
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return Status::InvalidArgument(std::string("Kafka: ") + err);
  }
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, nullptr, &md, 5000);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_destroy(rk);
    return Status::Unavailable("Kafka at " + p.brokers + " does not answer: " + rd_kafka_err2str(e));
  }
  rd_kafka_metadata_destroy(md);
  return std::unique_ptr<EventPublisher>(new KafkaPublisher(rk, std::move(p)));
}

}  // namespace embedrec::events
