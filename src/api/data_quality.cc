// GET /api/v1/data/quality: how fit the tenant's data is for training, with
// warnings a person can act on. Counted again when the tenant's event log has
// moved on (every upload and tracked event appends one), otherwise from what
// was kept (ingest/data_quality.h).
#include <boost/json.hpp>
#include <cmath>

#include "api/call.h"
#include "api/json_body.h"
#include "common/json_text.h"
#include "common/time_format.h"
#include "ingest/data_quality.h"

namespace embedrec::api {
namespace json = boost::json;
using http::PathParams;
using http::Request;

namespace {

// Below this many interactions a personalised model has too little to learn from.
constexpr int64_t kMinInteractionsToTrain = 1000;

double Percent(int64_t part, int64_t whole) {
  return whole == 0 ? 100.0 : std::round(1000.0 * double(part) / double(whole)) / 10.0;
}

}  // namespace

json::object DataQualityReport(const ingest::CountedData& counted, int64_t now_ms) {
  const store::DataCounts& c = counted.counts;
  json::object types;
  for (const auto& [t, n] : c.per_type) types[t] = n;
  double completeness = Percent(c.filled_item_fields, 6 * c.items);
  double validity = Percent(c.upload_rows - c.upload_rejected, c.upload_rows);
  double uniqueness =
      Percent(c.upload_rows - c.upload_rejected - c.upload_duplicates, c.upload_rows - c.upload_rejected);
  json::value freshness = nullptr;
  if (c.latest_interaction_ms > 0) {
    freshness = std::round(double(now_ms - c.latest_interaction_ms) / 3.6e6 * 100) / 100;
  }
  json::array warnings;
  auto warn = [&](std::string code, std::string message) {
    warnings.push_back(json::object{{"code", std::move(code)}, {"message", std::move(message)}});
  };
  if (c.items == 0) warn("no_catalog", "No items yet: upload your catalog to /api/v1/upload/items.");
  if (c.interactions < kMinInteractionsToTrain) {
    warn("too_few_interactions",
         "Only " + std::to_string(c.interactions) + " interactions: too few to train a personalised "
         "model (at least " + std::to_string(kMinInteractionsToTrain) +
         "); recommendations will fall back to popularity. Upload more history.");
  }
  if (c.items > 0 && c.items_without_interactions * 2 > c.items) {
    warn("cold_items", std::to_string(c.items_without_interactions) + " of " +
                           std::to_string(c.items) +
                           " items have no interactions; they can only be recommended by "
                           "similarity or popularity.");
  }
  if (c.users > 0 && c.users_with_one_interaction * 2 > c.users) {
    warn("thin_users", std::to_string(c.users_with_one_interaction) + " of " +
                           std::to_string(c.users) +
                           " users have a single interaction; track views and carts, not only "
                           "purchases, to learn more about them.");
  }
  if (c.upload_rows > 0 && validity < 95) {
    warn("many_rejected_rows", "Only " + JsonText(json::value(validity)) +
                                   "% of uploaded rows were valid; see validation_errors of "
                                   "/api/v1/data/uploads.");
  }
  if (completeness < 50 && c.items > 0) {
    warn("sparse_catalog", "Items lack names, categories, prices or brands; filters and reasons "
                           "need them.");
  }
  if (c.latest_interaction_ms > 0 && now_ms - c.latest_interaction_ms > 7LL * 24 * 3600 * 1000) {
    warn("stale_data", "The newest interaction is over a week old; send live events to "
                       "/api/v1/interactions.");
  }
  json::object out{{"completeness_percent", completeness},
                   {"validity_percent", validity},
                   {"uniqueness_percent", uniqueness},
                   {"freshness_hours", freshness},
                   {"counts", json::object{{"users", c.users},
                                           {"items", c.items},
                                           {"interactions", c.interactions},
                                           {"items_without_interactions", c.items_without_interactions},
                                           {"users_with_single_interaction",
                                            c.users_with_one_interaction},
                                           {"interactions_per_type", std::move(types)}}},
                   {"warnings", std::move(warnings)},
                   {"computed_at", FormatRfc3339(counted.counted_ms / 1000)}};
  return out;
}

void RegisterDataQualityRoutes(TenantRoutes& routes) {
  http::RouteInfo info{"GET", "/api/v1/data/quality",
                       "Data-quality report of the tenant's catalog and history, with warnings",
                       "uploads", http::Role::kDataPipeline};
  info.slow = true;  // recomputed after every change of the data: a full scan
  info.replies = {{.status = 200, .description = "the report", .schema = R"({"type":"object",
    "required":["completeness_percent","validity_percent","uniqueness_percent","freshness_hours","counts","warnings","computed_at"],
    "properties":{"completeness_percent":{"type":"number"},"validity_percent":{"type":"number"},
    "uniqueness_percent":{"type":"number"},"freshness_hours":{"type":"number","nullable":true},
    "counts":{"type":"object","required":["users","items","interactions"],"properties":{"users":{"type":"integer"},
      "items":{"type":"integer"},"interactions":{"type":"integer"},"items_without_interactions":{"type":"integer"},
      "users_with_single_interaction":{"type":"integer"},"interactions_per_type":{"type":"object"}}},
    "warnings":{"type":"array","items":{"type":"object"}},"computed_at":{"type":"string"}}})"}};
  routes.Add(info, {.any = auth::kDataWrite | auth::kAnalyticsRead},
             [](const Request&, const PathParams&, TenantContext& ctx) -> StatusOr<http::Response> {
               ASSIGN_OR_RETURN(auto counted, ctx.DataCounts());
               return JsonAnswer(200, DataQualityReport(counted, ctx.NowMillis()));
             });
}

}  // namespace embedrec::api
