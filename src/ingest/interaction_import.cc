#include "ingest/interaction_import.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <tuple>
#include <cstdlib>
#include <unordered_map>

#include "common/strings.h"
#include "common/time_format.h"
#include "common/csv.h"
#include "ingest/header_columns.h"
#include "ingest/interaction_sorter.h"
#include "ingest/written_number.h"

namespace embedrec::ingest {

namespace {

enum class Col { kUser, kItem, kType, kTimestamp, kRating, kDuration, kValue, kQuantity, kExtra };

Col ColumnFor(const std::string& n) {
  if (n == "user_id") return Col::kUser;
  if (n == "item_id") return Col::kItem;
  if (n == "interaction_type") return Col::kType;
  if (n == "timestamp") return Col::kTimestamp;
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

// Type codes are ranks among the allowed names, so sorting by code sorts by
// name, as the store's key does.
struct TypeCodes {
  std::vector<std::string> names;
  std::unordered_map<std::string, uint16_t> code;
  uint16_t shown = 0, rating = 0;
};

StatusOr<TypeCodes> MakeTypeCodes(const std::set<std::string>& custom_types) {
  TypeCodes t;
  std::set<std::string> all = interactions::BuiltInTypes();
  all.insert(custom_types.begin(), custom_types.end());
  if (all.size() > 65535) return Status::InvalidArgument("too many custom interaction types");
  for (const auto& name : all) {
    t.code.emplace(name, static_cast<uint16_t>(t.names.size()));
    t.names.push_back(name);
  }
  t.shown = t.code.at("recommendations_shown");
  t.rating = t.code.at("rating");
  return t;
}

// Phase 1 of an upload, no lock held: the header, then each row validated
// (the interaction rules), packed and handed to the sorter; users the
// snapshot does not know get provisional keys in order of appearance.
class RowReader {
 public:
  RowReader(const IdSnapshot& ids, const TypeCodes& types, const InteractionImportOptions& opt,
            InteractionSorter* sorter, NewUsers* new_users, ImportResult* result)
      : ids_(ids), types_(types), opt_(opt), sorter_(sorter), new_users_(new_users), result_(result) {}

  Status OnRecord(const CsvRecord& r) { return have_header_ ? Row(r) : Header(r); }
  bool have_header() const { return have_header_; }
  // The stored users (user_idx) with rows in the file, increasing.
  std::vector<int64_t> StoredUsers() const {
    std::vector<int64_t> out;
    for (size_t u = 0; u < stored_seen_.size(); ++u) {
      if (stored_seen_[u]) out.push_back(static_cast<int64_t>(u));
    }
    return out;
  }

 private:
  Status Header(const CsvRecord& r) {
    if (!r.error.empty()) return Status::Unprocessable("the header row is malformed: " + r.error);
    result_->delimiter = r.delimiter;
    static const std::vector<ColumnAlias> kAliases = {
        {"user_id", {"customer_id", "visitor_id"}},
        {"item_id", {"product_id", "sku"}},
        {"interaction_type", {"type", "event_type", "event"}},
        {"timestamp", {"ts", "time", "datetime", "event_time"}}};
    const std::vector<std::string> canon =
        HeaderColumns(std::vector<std::string_view>(r.fields.begin(), r.fields.end()), kAliases);
    for (size_t i = 0; i < canon.size(); ++i) {
      std::string name = AsciiLower(Trim(r.fields[i]));
      Col c = ColumnFor(canon[i]);
      if (c != Col::kExtra && std::find(cols_.begin(), cols_.end(), c) != cols_.end()) {
        return Status::Unprocessable("column '" + name + "' appears twice in the header");
      }
      names_.push_back(name);
      cols_.push_back(c);
      if (c == Col::kExtra) result_->extra_columns.push_back(name);
    }
    for (const char* name : {"user_id", "item_id", "interaction_type", "timestamp"}) {
      RETURN_IF_ERROR(RequireColumn(canon, name));
    }
    have_header_ = true;
    return Status::Ok();
  }

  Status Row(const CsvRecord& r) {
    if (!result_->AdmitRecord(r, cols_.size())) return Status::Ok();
    std::string_view user_id, item_id;
    type_.clear();
    type_raw_ = {};
    error_.clear();
    PackedInteraction rec;
    bool have_ts = false;
    read_as_utc_ = false;
    for (size_t i = 0; i < cols_.size() && error_.empty(); ++i) {
      std::string_view v = Trim(r.fields[i]);
      if (cols_[i] != Col::kExtra && !IsValidUtf8(v)) {
        error_ = "column '" + names_[i] + "' is not valid UTF-8";
        break;
      }
      switch (cols_[i]) {
        case Col::kUser: user_id = v; break;
        case Col::kItem: item_id = v; break;
        case Col::kType:
          type_ = AsciiLower(v);
          type_raw_ = v;
          break;
        case Col::kTimestamp: have_ts = ReadTimestamp(v, &rec); break;
        case Col::kRating: ReadNumber(i, v, PackedInteraction::kRating, interactions::Number::kRating, &rec); break;
        case Col::kDuration:
          ReadNumber(i, v, PackedInteraction::kDuration, interactions::Number::kDurationSeconds, &rec);
          break;
        case Col::kValue: ReadNumber(i, v, PackedInteraction::kValue, interactions::Number::kValue, &rec); break;
        case Col::kQuantity:
          ReadNumber(i, v, PackedInteraction::kQuantity, interactions::Number::kQuantity, &rec);
          break;
        case Col::kExtra: break;
      }
    }
    if (error_.empty()) CheckFields(user_id, item_id, have_ts, &rec);
    if (!error_.empty()) {
      result_->Reject({r.record, error_, std::string(item_id.substr(0, 256)), std::string(user_id.substr(0, 256))});
      return Status::Ok();
    }
    if (read_as_utc_) ++result_->timestamps_read_as_utc;
    if (auto u = ids_.users.find(user_id); u != ids_.users.end()) {
      rec.user_key = u->second;
      if (static_cast<size_t>(u->second) >= stored_seen_.size()) stored_seen_.resize(u->second + 1);
      stored_seen_[u->second] = true;
    } else {
      ASSIGN_OR_RETURN(rec.user_key, new_users_->Add(user_id));
    }
    return sorter_->Add(rec);
  }

  // False (with error_ set) for a timestamp that is malformed or too far ahead.
  bool ReadTimestamp(std::string_view v, PackedInteraction* rec) {
    auto ts = interactions::ParseTimestampMillis(v, &read_as_utc_);
    if (!ts) {
      error_ = "Invalid timestamp format: '" + std::string(v.substr(0, 40)) +
               "' (use RFC 3339, e.g. 2024-01-10T14:23:00Z or 2024-01-10 14:23:00 for UTC, or epoch seconds)";
      return false;
    }
    if (*ts > opt_.now_ms + opt_.max_future_ms) {
      error_ = "timestamp is in the future";
      return false;
    }
    rec->ts_ms = *ts;
    return true;
  }

  // A plain decimal that the interaction rules allow (empty: absent).
  void ReadNumber(size_t col, std::string_view v, PackedInteraction::Field f, interactions::Number which,
                  PackedInteraction* rec) {
    if (v.empty()) return;
    // "4,5" in a ';'-separated file; a value as "$1,299.00" or "1.299,00 €"
    std::string why;
    const auto written = ReadWrittenNumber(
        v, {.delimiter = result_->delimiter, .amount = f == PackedInteraction::kValue}, &why);
    std::optional<double> n;
    if (written) n = Number(written->plain);
    const interactions::NumberRule& rule = interactions::Rule(which);
    if (!n || !rule.Allows(*n)) {
      error_ = names_[col] + " must be " + rule.allowed + ", not '" + std::string(v.substr(0, 40)) + "'";
      if (!why.empty()) error_ += ": " + why;
      return;
    }
    if (!result_->TakeCurrency(written->currency, opt_.currency, &error_)) return;
    rec->vals[f] = *n;
    rec->present |= static_cast<uint8_t>(1u << f);
  }

  // The rules between fields: ids present, a known type, a rating for a
  // rating, a catalog item.
  void CheckFields(std::string_view user_id, std::string_view item_id, bool have_ts, PackedInteraction* rec) {
    auto code = types_.code.find(type_);
    if (code == types_.code.end() && !type_.empty()) {  // "Add To Cart", "Product Viewed"
      if (auto spelt = types_.code.find(interactions::TypeSpelling(type_raw_)); spelt != types_.code.end()) code = spelt;
    }
    if (user_id.empty()) error_ = "user_id is empty";
    else if (user_id.size() > 256) error_ = "user_id is longer than 256 bytes";
    else if (HasControlChars(user_id, false) || HasControlChars(item_id, false)) {
      error_ = "user_id and item_id may not contain control characters";
    }
    else if (type_.empty()) error_ = "interaction_type is empty";
    else if (code == types_.code.end()) {
      // Only listed errors carry the message naming the type likely meant.
      error_ = result_->errors.size() < kMaxListedErrors ? interactions::UnknownTypeMessage(type_, opt_.custom_types)
                                                         : "unknown interaction_type";
    } else if (!have_ts) error_ = "timestamp is empty";
    else if (code->second == types_.rating && !(rec->present & (1u << PackedInteraction::kRating))) {
      error_ = "a rating interaction needs a rating";
    } else if (item_id.empty() && code->second != types_.shown) error_ = "item_id is empty";
    else rec->type = code->second;
    if (!error_.empty() || item_id.empty()) return;
    auto it = ids_.items.find(item_id);
    if (it == ids_.items.end()) {
      error_ = "unknown item_id '" + std::string(item_id.substr(0, 256)) + "': upload it in the catalog first";
    } else {
      rec->item_idx = it->second;
    }
  }

  const IdSnapshot& ids_;
  const TypeCodes& types_;
  const InteractionImportOptions& opt_;
  InteractionSorter* sorter_;
  NewUsers* new_users_;
  ImportResult* result_;
  std::vector<Col> cols_;
  std::vector<std::string> names_;
  bool have_header_ = false;
  std::string type_, error_;  // per row, kept for their buffers
  std::string_view type_raw_;  // the row's type as written (its record's)
  bool read_as_utc_ = false;    // the row's timestamp had no zone
  std::vector<bool> stored_seen_;  // by user_idx: a stored user with rows here
};

// Phase 2, under the write lock: the rows in key order, each new user
// created just before its rows (new users come in key order too, so user_idx
// grows with the key and the inserts stay in the store's key order), repeats
// of the file and of the store dropped, with the upload's statistics.
Status WriteSorted(InteractionSorter& sorter, NewUsers& new_users, const IdSnapshot& ids,
                   const TypeCodes& types, int64_t now_ms, store::ImportBatch* batch, ImportResult* result,
                   InteractionStats* stats) {
  // New users are made a chunk at a time ahead of their rows (one round
  // trip per chunk on a database server), in key order.
  constexpr size_t kUsersAhead = 1024;
  std::deque<std::pair<int64_t, int64_t>> made;  // (key, user_idx), keys increasing
  auto user_idx = [&](int64_t key) -> StatusOr<int64_t> {
    if (key < kNewUserBase) return key;
    while (true) {
      while (!made.empty() && made.front().first < key) made.pop_front();
      if (!made.empty()) {
        if (made.front().first == key) return made.front().second;
        return Status::Internal("import: rows of a user the upload did not see");
      }
      std::vector<int64_t> keys;
      std::vector<std::string> ids;
      int64_t k;
      std::string id;
      while (ids.size() < kUsersAhead) {
        ASSIGN_OR_RETURN(bool more, new_users.Next(&k, &id));
        if (!more) break;
        keys.push_back(k);
        ids.push_back(std::move(id));
      }
      if (ids.empty()) return Status::Internal("import: rows of a user the upload did not see");
      ASSIGN_OR_RETURN(auto idx, batch->EnsureUsers(ids, now_ms));
      for (size_t i = 0; i < keys.size(); ++i) made.emplace_back(keys[i], idx[i]);
    }
  };
  int64_t max_item = -1;
  for (const auto& [id, idx] : ids.items) max_item = std::max(max_item, idx);
  std::vector<bool> item_seen(static_cast<size_t>(max_item + 1));
  std::vector<int64_t> per_type(types.names.size());
  store::InteractionRecord out;
  PackedInteraction row, prev;
  bool have_prev = false;
  int64_t prev_user = -1;
  while (true) {
    ASSIGN_OR_RETURN(bool more, sorter.Next(&row));
    if (!more) break;
    if (have_prev && SameKey(row, prev)) {  // the file repeats itself
      ++result->duplicates_removed;
      continue;
    }
    prev = row;
    have_prev = true;
    ASSIGN_OR_RETURN(out.user_idx, user_idx(row.user_key));
    out.item_idx = row.item_idx >= 0 ? std::optional<int64_t>(row.item_idx) : std::nullopt;
    out.type = types.names[row.type];
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
      ++result->duplicates_removed;
      continue;
    }
    ++result->rows_accepted;
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
  // The stream's end: a user made ahead but never reached, or two ids
  // sharing the last key, are found here.
  while (!made.empty() && made.front().first <= prev_user) made.pop_front();
  int64_t extra_key;
  std::string extra_id;
  ASSIGN_OR_RETURN(bool extra, new_users.Next(&extra_key, &extra_id));
  if (extra || !made.empty()) return Status::Internal("import: a new user without rows");
  for (size_t t = 0; t < per_type.size(); ++t) {
    if (per_type[t] > 0) stats->types[types.names[t]] = per_type[t];
  }
  return Status::Ok();
}

double SecondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

StatusOr<ImportResult> ImportInteractionsCsv(ByteSource* csv, const IdSnapshot& ids,
                                             const BeginBatch& begin,
                                             const InteractionImportOptions& opt,
                                             InteractionStats* stats) {
  ImportResult result;
  *stats = InteractionStats{};
  ASSIGN_OR_RETURN(TypeCodes types, MakeTypeCodes(opt.custom_types));
  InteractionSorter sorter(opt.spill_dir, opt.sort_chunk_rows ? opt.sort_chunk_rows
                                                              : InteractionSorter::kDefaultChunkRows);
  // Phase 1: read, validate and sort; no lock held.
  const auto t0 = std::chrono::steady_clock::now();
  NewUsers new_users(opt.spill_dir, opt.new_user_chunk ? opt.new_user_chunk : NewUsers::kDefaultChunkUsers,
                     opt.user_hash);
  RowReader reader(ids, types, opt, &sorter, &new_users, &result);
  CsvParser parser({.detect_delimiter = true}, [&reader](const CsvRecord& r) { return reader.OnRecord(r); });
  RETURN_IF_ERROR(parser.ParseAll(csv));
  if (!reader.have_header()) {
    return Status::Unprocessable("the file is empty: it needs a header row naming its columns")
        .WithReason("empty_file");
  }
  RETURN_IF_ERROR(sorter.Finish());
  RETURN_IF_ERROR(new_users.Finish());
  stats->read_seconds = SecondsSince(t0);
  stats->runs_spilled = sorter.runs_spilled() + new_users.runs_spilled();

  // Phase 2: under the write lock.
  const auto t1 = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(store::ImportBatch * batch, begin());
  batch->ExpectStoredUsers(reader.StoredUsers());
  RETURN_IF_ERROR(WriteSorted(sorter, new_users, ids, types, opt.now_ms, batch, &result, stats));
  stats->write_seconds = SecondsSince(t1);
  return result;
}

}  // namespace embedrec::ingest
