#include "ingest/interaction_import.h"

#include <algorithm>
#include <cmath>
#include <tuple>
#include <cstdlib>
#include <unordered_set>

#include "common/strings.h"
#include "common/time_format.h"
#include "ingest/csv_parser.h"

namespace embedrec::ingest {

const std::set<std::string>& BuiltInInteractionTypes() {
  static const std::set<std::string> kTypes = {"view",     "click",  "add_to_cart",
                                               "remove_from_cart", "purchase", "rating",
                                               "like",     "share",  "recommendations_shown"};
  return kTypes;
}

std::optional<int64_t> ParseTimestampMillis(std::string_view t) {
  t = Trim(t);
  if (t.empty()) return std::nullopt;
  bool numeric = true;
  int dots = 0;
  for (char c : t) {
    if (c == '.') ++dots;
    else if (c < '0' || c > '9') numeric = false;
  }
  if (numeric && dots <= 1 && t.front() != '.' && t.back() != '.') {
    if (t.substr(0, t.find('.')).size() > 11) return std::nullopt;  // not seconds (ms?)
    double secs = std::strtod(std::string(t).c_str(), nullptr);
    return static_cast<int64_t>(std::llround(secs * 1000));
  }
  return ParseRfc3339Millis(t);
}

namespace {

constexpr size_t kSortChunk = 1 << 18;  // rows buffered and sorted before insertion

enum class Col { kUser, kItem, kType, kTimestamp, kRating, kDuration, kValue, kQuantity, kExtra };

Col ColumnFor(const std::string& n) {
  if (n == "user_id") return Col::kUser;
  if (n == "item_id") return Col::kItem;
  if (n == "interaction_type" || n == "type" || n == "event_type") return Col::kType;
  if (n == "timestamp" || n == "ts" || n == "time") return Col::kTimestamp;
  if (n == "rating") return Col::kRating;
  if (n == "duration_seconds") return Col::kDuration;
  if (n == "value" || n == "price") return Col::kValue;
  if (n == "quantity") return Col::kQuantity;
  return Col::kExtra;
}

// A plain non-negative decimal ("12", "0.5", ".5").
std::optional<double> Number(std::string_view s) {
  if (s.empty() || s.size() > 32) return std::nullopt;
  size_t digits = 0, dots = 0;
  for (char c : s) {
    if (c == '.') ++dots;
    else if (c >= '0' && c <= '9') ++digits;
    else return std::nullopt;
  }
  if (dots > 1 || digits == 0 || s.back() == '.') return std::nullopt;
  return std::strtod(std::string(s).c_str(), nullptr);
}

}  // namespace

StatusOr<ImportResult> ImportInteractionsCsv(ByteSource* csv, store::ImportBatch* batch,
                                             const InteractionImportOptions& opt,
                                             InteractionStats* stats) {
  ImportResult result;
  std::vector<Col> cols;
  std::vector<std::string> names;
  bool have_header = false;
  ASSIGN_OR_RETURN(auto items, batch->LoadItemIndex());
  ASSIGN_OR_RETURN(auto users, batch->LoadUserIndex());
  std::unordered_set<int64_t> seen_users, seen_items;
  *stats = InteractionStats{};

  // Valid rows are inserted in sorted chunks: in key order the store's
  // B-tree is written page after page instead of at random (measured: see
  // docs/benchmarks.md), while memory stays bounded by the chunk.
  std::vector<store::InteractionRecord> pending;
  pending.reserve(kSortChunk);
  auto flush = [&]() -> Status {
    std::sort(pending.begin(), pending.end(), [](const auto& a, const auto& b) {
      return std::tie(a.user_idx, a.item_idx, a.type, a.ts_ms) <
             std::tie(b.user_idx, b.item_idx, b.type, b.ts_ms);
    });
    for (const auto& rec : pending) {
      ASSIGN_OR_RETURN(bool inserted, batch->InsertInteraction(rec));
      if (!inserted) {
        ++result.duplicates_removed;
        continue;
      }
      ++result.rows_accepted;
      seen_users.insert(rec.user_idx);
      if (rec.item_idx) seen_items.insert(*rec.item_idx);
      ++stats->types[rec.type];
      if (stats->min_ts_ms == 0 || rec.ts_ms < stats->min_ts_ms) stats->min_ts_ms = rec.ts_ms;
      if (rec.ts_ms > stats->max_ts_ms) stats->max_ts_ms = rec.ts_ms;
    }
    pending.clear();
    return Status::Ok();
  };

  auto on_record = [&](const CsvRecord& r) -> Status {
    if (!have_header) {
      if (!r.error.empty()) return Status::Unprocessable("the header row is malformed: " + r.error);
      for (auto f : r.fields) {
        std::string name = AsciiLower(Trim(f));
        Col c = ColumnFor(name);
        if (c != Col::kExtra && std::find(cols.begin(), cols.end(), c) != cols.end()) {
          return Status::Unprocessable("column '" + name + "' appears twice in the header");
        }
        names.push_back(name);
        cols.push_back(c);
        if (c == Col::kExtra) result.extra_columns.push_back(name);
      }
      for (auto [c, label] : {std::pair{Col::kUser, "user_id"}, std::pair{Col::kItem, "item_id"},
                              std::pair{Col::kType, "interaction_type"},
                              std::pair{Col::kTimestamp, "timestamp"}}) {
        if (std::find(cols.begin(), cols.end(), c) == cols.end()) {
          return Status::Unprocessable(std::string("the header has no ") + label + " column");
        }
      }
      have_header = true;
      return Status::Ok();
    }
    if (!result.AdmitRecord(r, cols.size())) return Status::Ok();
    std::string user_id, item_id, type, error;
    store::InteractionRecord rec;
    rec.upload_id = opt.upload_id;
    bool have_ts = false;
    for (size_t i = 0; i < cols.size() && error.empty(); ++i) {
      std::string_view v = Trim(r.fields[i]);
      if (cols[i] != Col::kExtra && !IsValidUtf8(v)) {
        error = "column '" + names[i] + "' is not valid UTF-8";
        break;
      }
      // A plain decimal within [lo, hi]; `rule` completes the error message.
      auto number = [&](std::optional<double>* out, double lo, double hi, const char* rule) {
        if (v.empty()) return;
        auto n = Number(v);
        if (!n || *n < lo || *n > hi) {
          error = names[i] + " must be " + rule + ", not '" + std::string(v.substr(0, 40)) + "'";
        } else {
          *out = *n;
        }
      };
      switch (cols[i]) {
        case Col::kUser: user_id = std::string(v); break;
        case Col::kItem: item_id = std::string(v); break;
        case Col::kType: type = AsciiLower(v); break;
        case Col::kTimestamp: {
          auto ts = ParseTimestampMillis(v);
          if (!ts) {
            error = "Invalid timestamp format: '" + std::string(v.substr(0, 40)) +
                    "' (use RFC 3339 with a zone, e.g. 2024-01-10T14:23:00Z, or epoch seconds)";
          } else if (*ts > opt.now_ms + opt.max_future_ms) {
            error = "timestamp is in the future";
          } else {
            rec.ts_ms = *ts;
            have_ts = true;
          }
          break;
        }
        case Col::kRating: number(&rec.rating, 1, 5, "a number from 1 to 5"); break;
        case Col::kDuration: number(&rec.duration_seconds, 0, 1e308, "a number ≥ 0"); break;
        case Col::kValue: number(&rec.value, 0, 1e308, "a number ≥ 0"); break;
        case Col::kQuantity:
          number(&rec.quantity, 0, 1e308, "a number > 0");
          if (error.empty() && rec.quantity && *rec.quantity == 0) error = "quantity must be > 0";
          break;
        case Col::kExtra: break;
      }
    }
    if (error.empty()) {
      if (user_id.empty()) error = "user_id is empty";
      else if (user_id.size() > 256) error = "user_id is longer than 256 bytes";
      else if (type.empty()) error = "interaction_type is empty";
      else if (!BuiltInInteractionTypes().count(type) && !opt.custom_types.count(type)) {
        error = "unknown interaction_type '" + type.substr(0, 40) +
                "' (add custom types to the tenant's settings)";
      } else if (!have_ts) error = "timestamp is empty";
      else if (type == "rating" && !rec.rating) error = "a rating interaction needs a rating";
      else if (item_id.empty() && type != "recommendations_shown") error = "item_id is empty";
    }
    if (error.empty() && !item_id.empty()) {
      auto it = items.find(item_id);
      if (it == items.end()) {
        error = "unknown item_id '" + item_id.substr(0, 256) + "': upload it in the catalog first";
      } else {
        rec.item_idx = it->second;
      }
    }
    if (!error.empty()) {
      result.Reject({r.record, error, item_id.substr(0, 256), user_id.substr(0, 256)});
      return Status::Ok();
    }
    rec.type = type;
    auto u = users.find(user_id);
    if (u == users.end()) {
      ASSIGN_OR_RETURN(int64_t idx, batch->InsertUser(user_id, opt.now_ms));
      u = users.emplace(user_id, idx).first;
    }
    rec.user_idx = u->second;
    pending.push_back(std::move(rec));
    if (pending.size() >= kSortChunk) return flush();
    return Status::Ok();
  };

  CsvParser parser({}, on_record);
  RETURN_IF_ERROR(parser.ParseAll(csv));
  RETURN_IF_ERROR(flush());
  if (!have_header) {
    return Status::Unprocessable("the file is empty: it needs a header row naming its columns")
        .WithReason("empty_file");
  }
  stats->unique_users = static_cast<int64_t>(seen_users.size());
  stats->unique_items = static_cast<int64_t>(seen_items.size());
  return result;
}

}  // namespace embedrec::ingest
