// Pieces of the routes' declared contract (http/router.h) that several
// resources share: parameter helpers and JSON Schemas (text) of common
// objects. Each route's own request and answer schemas stay beside it.
#pragma once

#include <string>
#include <vector>

#include "http/router.h"

namespace embedrec::api::schema {

// The largest cursor or sequence number a client may send: 2^53 − 1, exact
// in every JSON number (a JavaScript client's too).
inline constexpr long long kMaxCursor = 9007199254740991LL;

// Query parameters.
inline http::Param QueryInt(std::string name, long long min, long long max, std::string description) {
  return {.name = std::move(name),
          .schema = R"({"type":"integer","minimum":)" + std::to_string(min) + R"(,"maximum":)" +
                    std::to_string(max) + "}",
          .description = std::move(description)};
}
inline http::Param QueryString(std::string name, int max_length, std::string description) {
  return {.name = std::move(name),
          .schema = R"({"type":"string","maxLength":)" + std::to_string(max_length) + "}",
          .description = std::move(description)};
}
// A string (JSON Schema, whatever its type) as `schema` says.
inline http::Param Query(std::string name, std::string schema, std::string description) {
  return {.name = std::move(name), .schema = std::move(schema), .description = std::move(description)};
}
inline http::Param Path(std::string name, int max_length, std::string description) {
  return {.name = std::move(name),
          .in = http::Param::In::kPath,
          .schema = R"({"type":"string","minLength":1,"maxLength":)" + std::to_string(max_length) + "}",
          .required = true,
          .description = std::move(description)};
}

// A success answer.
inline http::Reply Reply(int status, std::string description, std::string schema = "") {
  return {.status = status, .description = std::move(description), .schema = std::move(schema)};
}
inline http::Reply NoContent(std::string description) {
  return {.status = 204, .description = std::move(description), .media = ""};
}

// "null or a string" / "null or a number" (OpenAPI 3.0 nullable).
inline constexpr const char* kNullableString = R"({"type":"string","nullable":true})";
inline constexpr const char* kTimestamp = R"({"type":"string","description":"RFC 3339 time"})";

// A catalog item as GET /api/v1/items/{item_id} answers it.
inline constexpr const char* kItem = R"({"type":"object",
  "required":["item_id","name","category","description","brand","tags","image_url","available","properties","price"],
  "properties":{"item_id":{"type":"string"},"name":{"type":"string"},"category":{"type":"string"},
  "description":{"type":"string"},"brand":{"type":"string"},"tags":{"type":"array","items":{"type":"string"}},
  "image_url":{"type":"string"},"available":{"type":"boolean"},"properties":{"type":"object"},
  "price":{"type":"number","nullable":true}}})";

// One recommended item (with include_properties: also brand, tags, available, properties).
inline constexpr const char* kRecommendation = R"({"type":"object",
  "required":["item_id","name","category","price","image_url","score","reason"],
  "properties":{"item_id":{"type":"string"},"name":{"type":"string"},"category":{"type":"string"},
  "price":{"type":"number","nullable":true},"image_url":{"type":"string"},
  "brand":{"type":"string"},"tags":{"type":"array","items":{"type":"string"}},"available":{"type":"boolean"},
  "properties":{"type":"object"},
  "score":{"type":"number","description":"probability of being chosen (calibrated) or a relative score"},
  "reason":{"type":"string"}}})";

// The answer's metadata: which model answered and how.
inline constexpr const char* kMetadata = R"({"type":"object","required":["algorithm"],"properties":{
  "model_version":{"type":"string","nullable":true},"algorithm":{"type":"string"},
  "count":{"type":"integer"},"latency_ms":{"type":"number"},"recommendation_id":{"type":"string"},
  "cache":{"type":"string","enum":["hit","miss"]},
  "experiment_id":{"type":"string","nullable":true,"description":"the running experiment that chose model_version, on recommendations"},
  "arm":{"type":"string","nullable":true,"description":"control or challenger"},
  "currency":{"type":"string","description":"what the items' prices are in: settings.currency (ISO 4217); absent when the shop names none"}}})";

// Filters of the recommendation routes.
// A filter the server does not know is refused (422), never ignored: an
// answer that silently breaks the filter the shop asked for is worse.
inline constexpr const char* kFilters = R"({"type":"object","additionalProperties":false,"properties":{
  "category":{"type":"string","maxLength":256},
  "categories":{"type":"array","maxItems":10000,"items":{"type":"string"}},
  "brand":{"type":"string","maxLength":256},
  "price_min":{"type":"number","minimum":0,"maximum":1e15},
  "price_max":{"type":"number","minimum":0,"maximum":1e15},
  "min_price":{"type":"number","minimum":0,"maximum":1e15,"description":"price_min by another name"},
  "max_price":{"type":"number","minimum":0,"maximum":1e15,"description":"price_max by another name"},
  "tags_any":{"type":"array","maxItems":10000,"items":{"type":"string"}},
  "exclude_item_ids":{"type":"array","maxItems":10000,"items":{"type":"string"}},
  "include_item_ids":{"type":"array","maxItems":10000,"items":{"type":"string"}},
  "in_stock_only":{"type":"boolean"}}})";

// A page's cursor: the next page's ?cursor, or null at the end.
inline constexpr const char* kCursor = R"({"type":"string","nullable":true})";

}  // namespace embedrec::api::schema
