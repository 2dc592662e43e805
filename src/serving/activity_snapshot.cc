// Popularity kept across restarts (Activity's persisted snapshot): the
// built trend state, written to the tenant's store after a costly build and
// read back instead of a full scan when nothing but tracked events changed
// the data since (uploads and catalog changes make it stale).
#include "common/binary_io.h"
#include "common/sealed_file.h"
#include "serving/activity.h"

namespace embedrec::serving {
namespace {

constexpr std::string_view kMagic = "ERTREND2";  // 1: before the half-life was kept
constexpr char kName[] = "popularity";

}  // namespace

std::string Activity::EncodeTrend(const TrendState& tr, const interactions::TypeWeights& weights) {
  std::string w;
  PutBinary(&w, tr.reference_ms);
  PutBinary(&w, tr.newest_ts_ms);
  PutBinary(&w, tr.activity_ms);
  PutBinary(&w, tr.half_life_ms);
  PutBinary(&w, static_cast<uint8_t>(tr.has_purchases));
  PutBinary(&w, static_cast<uint32_t>(weights.overrides().size()));
  for (const auto& [type, weight] : weights.overrides()) {
    PutBinaryString(&w, type);
    PutBinary(&w, weight);
  }
  PutBinary(&w, static_cast<uint64_t>(tr.score.size()));
  for (const auto& [id, score] : tr.score) {
    PutBinaryString(&w, id);
    PutBinary(&w, score);
  }
  PutBinary(&w, static_cast<uint32_t>(tr.context_counts.size()));
  for (const auto& [context, counts] : tr.context_counts) {
    PutBinaryString(&w, context);
    PutBinary(&w, static_cast<uint32_t>(counts.size()));
    for (const auto& [category, n] : counts) {
      PutBinaryString(&w, category);
      PutBinary(&w, n);
    }
  }
  return SealFile(kMagic, w);
}

StatusOr<std::unique_ptr<Activity::TrendState>> Activity::DecodeTrend(std::string_view bytes,
                                                                       const interactions::TypeWeights& weights) {
  ASSIGN_OR_RETURN(std::string_view body, OpenSealedFile(bytes, kMagic, "popularity snapshot"));
  const Status bad = Status::FailedPrecondition("corrupt popularity snapshot");
  BinaryReader r(body);
  constexpr size_t kMaxString = 1 << 16;
  auto tr = std::make_unique<TrendState>();
  uint8_t purchases = 0;
  uint32_t n_weights = 0;
  if (!r.Get(&tr->reference_ms) || !r.Get(&tr->newest_ts_ms) || !r.Get(&tr->activity_ms) ||
      !r.Get(&tr->half_life_ms) || !(tr->half_life_ms > 0) || !r.Get(&purchases) || !r.Get(&n_weights)) {
    return bad;
  }
  tr->has_purchases = purchases != 0;
  interactions::TypeWeights::Overrides overrides;
  for (uint32_t i = 0; i < n_weights; ++i) {
    std::string type;
    float weight = 0;
    if (!r.GetString(&type, kMaxString) || !r.Get(&weight)) return bad;
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
    if (!r.GetString(&id, kMaxString) || !r.Get(&score)) return bad;
    tr->score.emplace(std::move(id), score);
  }
  uint32_t n_contexts = 0;
  if (!r.Get(&n_contexts)) return bad;
  for (uint32_t i = 0; i < n_contexts; ++i) {
    std::string context;
    uint32_t n = 0;
    if (!r.GetString(&context, kMaxString) || !r.Get(&n)) return bad;
    auto& counts = tr->context_counts[context];
    for (uint32_t j = 0; j < n; ++j) {
      std::string category;
      double count = 0;
      if (!r.GetString(&category, kMaxString) || !r.Get(&count)) return bad;
      counts.emplace(std::move(category), count);
    }
  }
  if (r.remaining() != 0) return bad;
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
