#include "ingest/interaction_import.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <tuple>
#include <cstdlib>
#include <unordered_map>

#include "common/strings.h"
#include "common/time_format.h"
#include "common/csv.h"
#include "ingest/interaction_sorter.h"

namespace embedrec::ingest {

namespace {

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

StatusOr<ImportResult> ImportInteractionsCsv(ByteSource* csv, const IdSnapshot& ids,
                                             const BeginBatch& begin,
                                             const InteractionImportOptions& opt,
                                             InteractionStats* stats) {
  ImportResult result;
  std::vector<Col> cols;
  std::vector<std::string> names;
  bool have_header = false;
  *stats = InteractionStats{};

  // Type codes are ranks among the allowed names, so sorting by code sorts
  // by name, as the store's key does.
  std::vector<std::string> type_names;
  std::unordered_map<std::string, uint16_t> type_code;
  {
    std::set<std::string> all = interactions::BuiltInTypes();
    all.insert(opt.custom_types.begin(), opt.custom_types.end());
    if (all.size() > 65535) return Status::InvalidArgument("too many custom interaction types");
    for (const auto& t : all) {
      type_code.emplace(t, static_cast<uint16_t>(type_names.size()));
      type_names.push_back(t);
    }
  }
  const uint16_t shown_code = type_code.at("recommendations_shown");
  const uint16_t rating_code = type_code.at("rating");
  IdMap new_user_keys;  // users unknown to the snapshot → kNewUserBase + order of appearance
  InteractionSorter sorter(opt.spill_dir, opt.sort_chunk_rows ? opt.sort_chunk_rows
                                                              : InteractionSorter::kDefaultChunkRows);

  // Phase 1: read, validate and sort; no lock held.
  std::string type, error;
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
    std::string_view user_id, item_id;
    type.clear();
    error.clear();
    PackedInteraction rec;
    bool have_ts = false;
    for (size_t i = 0; i < cols.size() && error.empty(); ++i) {
      std::string_view v = Trim(r.fields[i]);
      if (cols[i] != Col::kExtra && !IsValidUtf8(v)) {
        error = "column '" + names[i] + "' is not valid UTF-8";
        break;
      }
      // A plain decimal that the interaction rules allow.
      auto number = [&](PackedInteraction::Field f, interactions::Number which) {
        if (v.empty()) return;
        auto n = Number(v);
        const interactions::NumberRule& rule = interactions::Rule(which);
        if (!n || !rule.Allows(*n)) {
          error = names[i] + " must be " + rule.allowed + ", not '" + std::string(v.substr(0, 40)) + "'";
        } else {
          rec.vals[f] = *n;
          rec.present |= static_cast<uint8_t>(1u << f);
        }
      };
      switch (cols[i]) {
        case Col::kUser: user_id = v; break;
        case Col::kItem: item_id = v; break;
        case Col::kType: type = AsciiLower(v); break;
        case Col::kTimestamp: {
          auto ts = interactions::ParseTimestampMillis(v);
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
        case Col::kRating: number(PackedInteraction::kRating, interactions::Number::kRating); break;
        case Col::kDuration: number(PackedInteraction::kDuration, interactions::Number::kDurationSeconds); break;
        case Col::kValue: number(PackedInteraction::kValue, interactions::Number::kValue); break;
        case Col::kQuantity: number(PackedInteraction::kQuantity, interactions::Number::kQuantity); break;
        case Col::kExtra: break;
      }
    }
    if (error.empty()) {
      auto code = type_code.find(type);
      if (user_id.empty()) error = "user_id is empty";
      else if (user_id.size() > 256) error = "user_id is longer than 256 bytes";
      else if (type.empty()) error = "interaction_type is empty";
      else if (code == type_code.end()) {
        error = "unknown interaction_type '" + type.substr(0, 40) +
                "' (add custom types to the tenant's settings)";
      } else if (!have_ts) error = "timestamp is empty";
      else if (code->second == rating_code && !(rec.present & (1u << PackedInteraction::kRating))) {
        error = "a rating interaction needs a rating";
      } else if (item_id.empty() && code->second != shown_code) error = "item_id is empty";
      else rec.type = code->second;
    }
    if (error.empty() && !item_id.empty()) {
      auto it = ids.items.find(item_id);
      if (it == ids.items.end()) {
        error = "unknown item_id '" + std::string(item_id.substr(0, 256)) +
                "': upload it in the catalog first";
      } else {
        rec.item_idx = it->second;
      }
    }
    if (!error.empty()) {
      result.Reject({r.record, error, std::string(item_id.substr(0, 256)),
                     std::string(user_id.substr(0, 256))});
      return Status::Ok();
    }
    if (auto u = ids.users.find(user_id); u != ids.users.end()) {
      rec.user_key = u->second;
    } else {
      auto n = new_user_keys.emplace(std::string(user_id),
                                     kNewUserBase + static_cast<int64_t>(new_user_keys.size()));
      rec.user_key = n.first->second;
    }
    return sorter.Add(rec);
  };

  auto t0 = std::chrono::steady_clock::now();
  auto seconds_since = [](auto t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };
  CsvParser parser({}, on_record);
  RETURN_IF_ERROR(parser.ParseAll(csv));
  if (!have_header) {
    return Status::Unprocessable("the file is empty: it needs a header row naming its columns")
        .WithReason("empty_file");
  }
  RETURN_IF_ERROR(sorter.Finish());
  std::vector<std::string> new_users(new_user_keys.size());  // by order of appearance
  while (!new_user_keys.empty()) {
    auto node = new_user_keys.extract(new_user_keys.begin());
    new_users[node.mapped() - kNewUserBase] = std::move(node.key());
  }
  stats->read_seconds = seconds_since(t0);
  stats->runs_spilled = sorter.runs_spilled();
  auto t1 = std::chrono::steady_clock::now();

  // Phase 2: under the write lock, users first (in order, so keys keep their
  // order), then the rows in key order.
  ASSIGN_OR_RETURN(store::ImportBatch * batch, begin());
  std::vector<int64_t> new_user_idx(new_users.size());
  for (size_t k = 0; k < new_users.size(); ++k) {
    ASSIGN_OR_RETURN(new_user_idx[k], batch->EnsureUser(new_users[k], opt.now_ms));
  }
  new_users = {};
  int64_t max_item = -1;
  for (const auto& [id, idx] : ids.items) max_item = std::max(max_item, idx);
  std::vector<bool> item_seen(static_cast<size_t>(max_item + 1));
  std::vector<int64_t> per_type(type_names.size());
  store::InteractionRecord out;
  PackedInteraction row, prev;
  bool have_prev = false;
  int64_t prev_user = -1;
  while (true) {
    ASSIGN_OR_RETURN(bool more, sorter.Next(&row));
    if (!more) break;
    if (have_prev && SameKey(row, prev)) {  // the file repeats itself
      ++result.duplicates_removed;
      continue;
    }
    prev = row;
    have_prev = true;
    out.user_idx = row.user_key >= kNewUserBase ? new_user_idx[row.user_key - kNewUserBase]
                                                : row.user_key;
    out.item_idx = row.item_idx >= 0 ? std::optional<int64_t>(row.item_idx) : std::nullopt;
    out.type = type_names[row.type];
    out.ts_ms = row.ts_ms;
    auto val = [&](PackedInteraction::Field f) {
      return (row.present & (1u << f)) ? std::optional<double>(row.vals[f]) : std::nullopt;
    };
    out.rating = val(PackedInteraction::kRating);
    out.duration_seconds = val(PackedInteraction::kDuration);
    out.value = val(PackedInteraction::kValue);
    out.quantity = val(PackedInteraction::kQuantity);
    ASSIGN_OR_RETURN(bool inserted, batch->InsertInteraction(out));
    if (!inserted) {  // stored before
      ++result.duplicates_removed;
      continue;
    }
    ++result.rows_accepted;
    if (row.user_key != prev_user) ++stats->unique_users;  // rows come grouped by user
    prev_user = row.user_key;
    if (row.item_idx >= 0 && !item_seen[row.item_idx]) {
      item_seen[row.item_idx] = true;
      ++stats->unique_items;
    }
    ++per_type[row.type];
    if (stats->min_ts_ms == 0 || row.ts_ms < stats->min_ts_ms) stats->min_ts_ms = row.ts_ms;
    stats->max_ts_ms = std::max(stats->max_ts_ms, row.ts_ms);
  }
  for (size_t t = 0; t < per_type.size(); ++t) {
    if (per_type[t] > 0) stats->types[type_names[t]] = per_type[t];
  }
  stats->write_seconds = seconds_since(t1);
  return result;
}

}  // namespace embedrec::ingest
