// The Kafka publisher (events/event_publisher.h), over librdkafka: an
// idempotent producer (acks=all, retries without duplicates or reordering
// within a session), each Publish flushed before it returns.
#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>

#include "events/event_publisher.h"

namespace embedrec::events {
namespace {

struct Parsed {
  std::string brokers, prefix;
};

StatusOr<Parsed> ParseUrl(const std::string& url) {
  constexpr std::string_view kScheme = "kafka://";
  if (url.rfind(kScheme, 0) != 0) return Status::InvalidArgument("not a kafka://host:port[,host:port…][/prefix] URL");
  std::string rest = url.substr(kScheme.size());
  Parsed p;
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

class KafkaPublisher final : public EventPublisher {
 public:
  KafkaPublisher(rd_kafka_t* rk, Parsed p) : rk_(rk), p_(std::move(p)) {}
  ~KafkaPublisher() override {
    rd_kafka_flush(rk_, 10'000);
    rd_kafka_destroy(rk_);
  }

  Status Publish(const std::vector<PublishedEvent>& events) override {
    failed_ = 0;
    first_error_.clear();
    for (const auto& e : events) {
      const std::string topic = p_.prefix.empty() ? e.topic : p_.prefix + "." + e.topic;
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
  Parsed p_;
  std::atomic<int> failed_{0};
  std::mutex mu_;
  std::string first_error_;
};

}  // namespace

StatusOr<std::unique_ptr<EventPublisher>> OpenKafkaPublisher(const std::string& url) {
  ASSIGN_OR_RETURN(Parsed p, ParseUrl(url));
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const char* k, const std::string& v) -> Status {
    if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      return Status::InvalidArgument(std::string("Kafka setting ") + k + ": " + err);
    }
    return Status::Ok();
  };
  Status s = set("bootstrap.servers", p.brokers);
  if (s.ok()) s = set("enable.idempotence", "true");
  if (s.ok()) s = set("acks", "all");
  if (s.ok()) s = set("linger.ms", "5");
  if (s.ok()) s = set("message.timeout.ms", "30000");
  if (s.ok()) s = set("log_level", "3");  // errors only: a broker restart is retried, not news
  if (!s.ok()) {
    rd_kafka_conf_destroy(conf);
    return s;
  }
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
