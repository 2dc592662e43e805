#include "ingest/data_quality.h"

#include <boost/json.hpp>

#include "common/json_text.h"

namespace embedrec::ingest {
namespace json = boost::json;

namespace {

constexpr const char* kSnapshot = "data-counts";
constexpr size_t kKeptMax = 100'000;  // tenants in memory (each a few hundred bytes)

int64_t IntOf(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_int64() ? v->as_int64() : 0;
}

}  // namespace

DataQuality::DataQuality(store::TenantStores* stores, const Clock* clock, Background background)
    : stores_(stores), clock_(clock), background_(std::move(background)) {}

std::string DataQuality::Encode(const CountedData& c) {
  const store::DataCounts& d = c.counts;
  json::object types;
  for (const auto& [t, n] : d.per_type) types[t] = n;
  json::object o{{"position", c.position},
                 {"counted_ms", c.counted_ms},
                 {"items", d.items},
                 {"users", d.users},
                 {"interactions", d.interactions},
                 {"items_without_interactions", d.items_without_interactions},
                 {"users_with_one_interaction", d.users_with_one_interaction},
                 {"per_type", std::move(types)},
                 {"filled_item_fields", d.filled_item_fields},
                 {"latest_interaction_ms", d.latest_interaction_ms},
                 {"upload_rows", d.upload_rows},
                 {"upload_rejected", d.upload_rejected},
                 {"upload_duplicates", d.upload_duplicates}};
  return JsonText(o);
}

StatusOr<CountedData> DataQuality::Decode(std::string_view bytes) {
  boost::system::error_code ec;
  json::value v = json::parse(bytes, ec);
  if (ec || !v.is_object()) return Status::Internal("kept data counts are not a JSON object");
  const json::object& o = v.as_object();
  CountedData c;
  c.position = IntOf(o, "position");
  c.counted_ms = IntOf(o, "counted_ms");
  store::DataCounts& d = c.counts;
  d.items = IntOf(o, "items");
  d.users = IntOf(o, "users");
  d.interactions = IntOf(o, "interactions");
  d.items_without_interactions = IntOf(o, "items_without_interactions");
  d.users_with_one_interaction = IntOf(o, "users_with_one_interaction");
  if (const json::value* types = o.if_contains("per_type"); types && types->is_object()) {
    for (const auto& [t, n] : types->as_object()) {
      if (n.is_int64()) d.per_type.emplace_back(std::string(t), n.as_int64());
    }
  }
  d.filled_item_fields = IntOf(o, "filled_item_fields");
  d.latest_interaction_ms = IntOf(o, "latest_interaction_ms");
  d.upload_rows = IntOf(o, "upload_rows");
  d.upload_rejected = IntOf(o, "upload_rejected");
  d.upload_duplicates = IntOf(o, "upload_duplicates");
  return c;
}

StatusOr<CountedData> DataQuality::Exact(const std::string& tenant_id) {
  ASSIGN_OR_RETURN(auto store, stores_->Open(tenant_id));
  ASSIGN_OR_RETURN(int64_t position, store->LatestEventSeq());
  auto kept = Kept(tenant_id, *store);
  if (kept.ok() && kept->position == position) return kept;
  if (!kept.ok() && kept.status().code() != StatusCode::kNotFound) return kept.status();
  return Count(tenant_id, *store);
}

StatusOr<std::optional<CountedData>> DataQuality::Recent(const std::string& tenant_id, int64_t rescan_after_ms) {
  ASSIGN_OR_RETURN(auto store, stores_->Open(tenant_id));
  auto kept = Kept(tenant_id, *store);
  if (!kept.ok()) {
    if (kept.status().code() != StatusCode::kNotFound) return kept.status();
    if (CountInBackground(tenant_id)) return std::optional<CountedData>();
    ASSIGN_OR_RETURN(CountedData counted, Count(tenant_id, *store));
    return std::optional<CountedData>(std::move(counted));
  }
  if (clock_->NowMillis() - kept->counted_ms > rescan_after_ms) {
    ASSIGN_OR_RETURN(int64_t position, store->LatestEventSeq());
    if (position != kept->position && !CountInBackground(tenant_id)) {
      ASSIGN_OR_RETURN(CountedData counted, Count(tenant_id, *store));
      return std::optional<CountedData>(std::move(counted));
    }
  }
  return std::optional<CountedData>(std::move(kept).value());
}

StatusOr<int64_t> DataQuality::StoredRows(const std::string& tenant_id) {
  ASSIGN_OR_RETURN(auto store, stores_->Open(tenant_id));
  auto kept = Kept(tenant_id, *store);
  if (!kept.ok()) {
    if (kept.status().code() != StatusCode::kNotFound) return kept.status();
    kept = Count(tenant_id, *store);
    if (!kept.ok()) return kept.status();
  }
  ASSIGN_OR_RETURN(int64_t since, store->CountNewInteractions(kept->position, INT64_MAX));
  const store::DataCounts& c = kept->counts;
  return c.items + c.users + c.interactions + since;
}

void DataQuality::Refresh(const std::string& tenant_id) { (void)CountInBackground(tenant_id); }

bool DataQuality::CountInBackground(const std::string& tenant_id) {
  if (!background_) return false;
  {
    std::lock_guard lock(mu_);
    if (!rescanning_.insert(tenant_id).second) return true;  // one count at a time
  }
  background_(tenant_id, [this, tenant_id] {
    {
      std::lock_guard lock(mu_);
      rescanning_.erase(tenant_id);  // a change from now on counts again
    }
    auto store = stores_->Open(tenant_id);
    if (store.ok()) (void)Count(tenant_id, **store);  // failed (a deleted tenant): tried again by a later call
  });
  return true;
}

void DataQuality::Forget(const std::string& tenant_id) {
  std::lock_guard lock(mu_);
  kept_.erase(tenant_id);
}

StatusOr<CountedData> DataQuality::Kept(const std::string& tenant_id, store::TenantStore& store) {
  {
    std::lock_guard lock(mu_);
    if (auto it = kept_.find(tenant_id); it != kept_.end()) return it->second;
  }
  ASSIGN_OR_RETURN(auto snapshot, store.GetSnapshot(kSnapshot));
  auto decoded = Decode(snapshot.bytes);
  if (!decoded.ok()) return Status::NotFound("kept data counts unreadable: counted again");
  Remember(tenant_id, *decoded);
  return decoded;
}

StatusOr<CountedData> DataQuality::Count(const std::string& tenant_id, store::TenantStore& store) {
  CountedData c;
  // The position first: the counts reflect at least every event up to it.
  ASSIGN_OR_RETURN(c.position, store.LatestEventSeq());
  c.counted_ms = clock_->NowMillis();
  ASSIGN_OR_RETURN(c.counts, store.CountData());
  // Kept for the next start; a failed write only costs that start a scan.
  (void)store.PutSnapshot(kSnapshot, c.position, Encode(c), c.counted_ms);
  Remember(tenant_id, c);
  return c;
}

void DataQuality::Remember(const std::string& tenant_id, const CountedData& c) {
  std::lock_guard lock(mu_);
  auto it = kept_.find(tenant_id);
  if (it != kept_.end() && it->second.counted_ms > c.counted_ms) return;  // a newer count won a race
  if (it == kept_.end() && kept_.size() >= kKeptMax) kept_.clear();
  kept_[tenant_id] = c;
}

}  // namespace embedrec::ingest
