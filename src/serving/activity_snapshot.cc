// Popularity kept across restarts (Activity's persisted snapshot): the
// built trend state, written to the tenant's store after a costly build and
// read back instead of a full scan when nothing but tracked events changed
// the data since (uploads and catalog changes make it stale).
#include <chrono>
#include <cstring>

#include "common/sealed_file.h"
#include "serving/activity.h"

namespace embedrec::serving {
namespace {

constexpr std::string_view kMagic = "ERTREND1";
constexpr char kName[] = "popularity";

class Writer {
 public:
  template <typename T>
  void Put(T v) {
    out_.append(reinterpret_cast<const char*>(&v), sizeof(v));
  }
  void Put(std::string_view s) {
    Put(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  std::string& out() { return out_; }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  template <typename T>
  bool Get(T* v) {
    if (in_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool Get(std::string* s) {
    uint32_t n = 0;
    if (!Get(&n) || in_.size() - pos_ < n) return false;
    s->assign(in_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bool done() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace

std::string Activity::EncodeTrend(const TrendState& tr, const interactions::TypeWeights& weights) {
  Writer w;
  w.Put(tr.reference_ms);
  w.Put(tr.newest_ts_ms);
  w.Put(tr.activity_ms);
  w.Put(static_cast<uint8_t>(tr.has_purchases));
  w.Put(static_cast<uint32_t>(weights.overrides().size()));
  for (const auto& [type, weight] : weights.overrides()) {
    w.Put(std::string_view(type));
    w.Put(weight);
  }
  w.Put(static_cast<uint64_t>(tr.score.size()));
  for (const auto& [id, score] : tr.score) {
    w.Put(std::string_view(id));
    w.Put(score);
  }
  w.Put(static_cast<uint32_t>(tr.context_counts.size()));
  for (const auto& [context, counts] : tr.context_counts) {
    w.Put(std::string_view(context));
    w.Put(static_cast<uint32_t>(counts.size()));
    for (const auto& [category, n] : counts) {
      w.Put(std::string_view(category));
      w.Put(n);
    }
  }
  return SealFile(kMagic, w.out());
}

StatusOr<std::unique_ptr<Activity::TrendState>> Activity::DecodeTrend(std::string_view bytes,
                                                                       const interactions::TypeWeights& weights) {
  ASSIGN_OR_RETURN(std::string_view body, OpenSealedFile(bytes, kMagic, "popularity snapshot"));
  const Status bad = Status::FailedPrecondition("corrupt popularity snapshot");
  Reader r(body);
  auto tr = std::make_unique<TrendState>();
  uint8_t purchases = 0;
  uint32_t n_weights = 0;
  if (!r.Get(&tr->reference_ms) || !r.Get(&tr->newest_ts_ms) || !r.Get(&tr->activity_ms) || !r.Get(&purchases) ||
      !r.Get(&n_weights)) {
    return bad;
  }
  tr->has_purchases = purchases != 0;
  interactions::TypeWeights::Overrides overrides;
  for (uint32_t i = 0; i < n_weights; ++i) {
    std::string type;
    float weight = 0;
    if (!r.Get(&type) || !r.Get(&weight)) return bad;
    overrides.emplace(std::move(type), weight);
  }
  if (!(interactions::TypeWeights(std::move(overrides)) == weights)) {
    return Status::FailedPrecondition("the popularity snapshot was built with other interaction-type weights");
  }
  uint64_t n_scores = 0;
  if (!r.Get(&n_scores)) return bad;
  tr->score.reserve(static_cast<size_t>(std::min<uint64_t>(n_scores, body.size() / 12)));
  for (uint64_t i = 0; i < n_scores; ++i) {
    std::string id;
    double score = 0;
    if (!r.Get(&id) || !r.Get(&score)) return bad;
    tr->score.emplace(std::move(id), score);
  }
  uint32_t n_contexts = 0;
  if (!r.Get(&n_contexts)) return bad;
  for (uint32_t i = 0; i < n_contexts; ++i) {
    std::string context;
    uint32_t n = 0;
    if (!r.Get(&context) || !r.Get(&n)) return bad;
    auto& counts = tr->context_counts[context];
    for (uint32_t j = 0; j < n; ++j) {
      std::string category;
      double count = 0;
      if (!r.Get(&category) || !r.Get(&count)) return bad;
      counts.emplace(std::move(category), count);
    }
  }
  if (!r.done()) return bad;
  return tr;
}

StatusOr<std::unique_ptr<Activity::TrendState>> Activity::LoadTrend(store::TenantStore& store,
                                                                     const interactions::TypeWeights& weights) {
  ASSIGN_OR_RETURN(auto snapshot, store.GetSnapshot(kName));
  ASSIGN_OR_RETURN(bool changed, store.DataChangedSince(snapshot.position));
  if (changed) return Status::FailedPrecondition("the data changed after the popularity snapshot");
  ASSIGN_OR_RETURN(auto tr, DecodeTrend(snapshot.bytes, weights));
  tr->built_at_ms = snapshot.created_at_ms;
  return tr;
}

Status Activity::SaveTrend(store::TenantStore& store, int64_t position, const std::string& bytes, int64_t now) {
  return store.PutSnapshot(kName, position, bytes, now);
}

}  // namespace embedrec::serving
