#include "ingest/item_import.h"

#include <boost/json.hpp>
#include <cstdlib>
#include <optional>

#include "common/json_text.h"
#include "common/strings.h"
#include "common/csv.h"
#include "ingest/header_columns.h"
#include "ingest/written_number.h"

namespace embedrec::ingest {
namespace json = boost::json;

void ImportResult::Reject(RowError e) {
  ++rows_rejected;
  if (errors.size() < kMaxListedErrors) errors.push_back(std::move(e));
  else ++errors_not_listed;
}

bool ImportResult::TakeCurrency(const std::string& written, const std::string& shop, std::string* error) {
  if (written.empty()) return true;
  // With a shop currency every way of writing it fits; else the file's first.
  const bool fits = !shop.empty() ? MayDenote(written, shop) : currency.empty() || SameCurrency(written, currency);
  if (fits) {
    if (currency.empty()) currency = written;
    return true;
  }
  *error = !shop.empty() ? "amount written in '" + written + "', the shop's currency is " + shop +
                               " (settings.currency): amounts are not converted"
                         : "amount written in '" + written + "', the file's earlier amounts in '" + currency +
                               "': amounts are not converted, so a file holds one currency";
  return false;
}

bool ImportResult::AdmitRecord(const CsvRecord& r, size_t columns) {
  ++data_rows;
  if (!r.error.empty()) {
    Reject({r.record, "malformed CSV: " + r.error, "", ""});
    return false;
  }
  if (r.fields.size() != columns) {
    Reject({r.record,
            "row has " + std::to_string(r.fields.size()) + " fields, the header has " +
                std::to_string(columns),
            "", ""});
    return false;
  }
  return true;
}

namespace {

enum class Col { kItemId, kName, kCategory, kPrice, kDescription, kBrand, kTags, kImageUrl,
                 kAvailable, kExtra };

Col ColumnFor(const std::string& name) {
  if (name == "item_id") return Col::kItemId;
  if (name == "name") return Col::kName;
  if (name == "category") return Col::kCategory;
  if (name == "price") return Col::kPrice;
  if (name == "description") return Col::kDescription;
  if (name == "brand") return Col::kBrand;
  if (name == "tags") return Col::kTags;
  if (name == "image_url") return Col::kImageUrl;
  if (name == "available" || name == "in_stock") return Col::kAvailable;
  return Col::kExtra;
}

// Strict decimal: digits with an optional fraction, nothing else.
std::optional<double> ParseDecimal(std::string_view s) {
  if (s.empty() || s.size() > 32) return std::nullopt;
  size_t i = 0, digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t frac = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++frac;
    if (frac == 0) return std::nullopt;
    digits += frac;
  }
  if (i != s.size() || digits == 0) return std::nullopt;
  return std::strtod(std::string(s).c_str(), nullptr);
}

std::optional<bool> ParseBool(std::string_view s) {
  std::string v = AsciiLower(s);
  if (v == "true" || v == "1" || v == "yes" || v == "y" || v == "t") return true;
  if (v == "false" || v == "0" || v == "no" || v == "n" || v == "f") return false;
  return std::nullopt;
}

struct Limits {
  Col col;
  size_t max_chars;
  const char* label;
};
constexpr Limits kTextLimits[] = {{Col::kName, 1000, "name"},
                                  {Col::kCategory, 200, "category"},
                                  {Col::kBrand, 200, "brand"},
                                  {Col::kImageUrl, 2048, "image_url"},
                                  {Col::kDescription, 65536, "description"}};

}  // namespace

StatusOr<ImportResult> ImportItemsCsv(ByteSource* csv, store::ImportBatch* batch, int64_t now_ms,
                                      const std::string& currency) {
  ImportResult result;
  // Accepted items go to the store in chunks (one round trip each on a server).
  constexpr size_t kChunk = 1000;
  std::vector<store::ItemRecord> pending;
  auto flush = [&]() -> Status {
    if (pending.empty()) return Status::Ok();
    RETURN_IF_ERROR(batch->UpsertItems(pending, now_ms));
    pending.clear();
    return Status::Ok();
  };
  std::vector<Col> cols;
  std::vector<std::string> names;
  bool have_header = false;
  Status header_error;

  auto on_record = [&](const CsvRecord& r) -> Status {
    if (!have_header) {
      if (!r.error.empty()) {
        return Status::Unprocessable("the header row is malformed: " + r.error);
      }
      result.delimiter = r.delimiter;
      static const std::vector<ColumnAlias> kAliases = {{"item_id", {"product_id", "sku"}},
                                                        {"name", {"title", "product_name"}}};
      const std::vector<std::string> canon =
          HeaderColumns(std::vector<std::string_view>(r.fields.begin(), r.fields.end()), kAliases);
      for (size_t i = 0; i < canon.size(); ++i) {
        std::string name = AsciiLower(Trim(r.fields[i]));  // an extra column's property name
        const Col c = ColumnFor(canon[i]);
        const bool twice = c == Col::kExtra
                               ? !name.empty() && std::find(names.begin(), names.end(), name) != names.end()
                               : std::find(cols.begin(), cols.end(), c) != cols.end();
        if (twice) return Status::Unprocessable("column '" + name + "' appears twice in the header");
        names.push_back(name);
        cols.push_back(c);
        if (c == Col::kExtra) result.extra_columns.push_back(name);
      }
      RETURN_IF_ERROR(RequireColumn(canon, "item_id"));
      have_header = true;
      return Status::Ok();
    }
    if (!result.AdmitRecord(r, cols.size())) return Status::Ok();
    store::ItemRecord item;
    json::object props;
    std::string error;
    for (size_t i = 0; i < cols.size() && error.empty(); ++i) {
      std::string_view v = r.fields[i];
      if (!IsValidUtf8(v)) {
        error = "column '" + names[i] + "' is not valid UTF-8";
        break;
      }
      switch (cols[i]) {
        case Col::kItemId: item.item_id = std::string(Trim(v)); break;
        case Col::kName: item.name = std::string(Trim(v)); break;
        case Col::kCategory: item.category = std::string(Trim(v)); break;
        case Col::kDescription: item.description = std::string(v); break;
        case Col::kBrand: item.brand = std::string(Trim(v)); break;
        case Col::kImageUrl: item.image_url = std::string(Trim(v)); break;
        case Col::kPrice: {
          std::string_view t = Trim(v);
          if (t.empty()) break;
          // "12,99" in a ';'-separated file, "$1,299.00", "1.299,00 €"
          std::string why;
          const auto n = ReadWrittenNumber(t, {.delimiter = r.delimiter, .amount = true}, &why);
          const bool negative = n && n->plain.starts_with('-');
          const auto p = n ? ParseDecimal(std::string_view(n->plain).substr(negative ? 1 : 0)) : std::nullopt;
          if (!p) {
            error = !why.empty() ? "Invalid price: " + why
                                 : "Invalid price format: '" + std::string(t.substr(0, 40)) +
                                       "' (expected a decimal like 12.99)";
          } else if (negative) {
            error = "price must not be negative";
          } else if (result.TakeCurrency(n->currency, currency, &error)) {
            item.price = *p;
          }
          break;
        }
        case Col::kTags: {
          // "a|b|c", or as shop platforms export them, "a, b, c" (or "a; b")
          // in a field without a bar.
          const char sep = v.find('|') != std::string_view::npos   ? '|'
                           : v.find(',') != std::string_view::npos ? ','
                           : v.find(';') != std::string_view::npos ? ';'
                                                                   : '|';
          for (auto t : Split(v, sep)) {
            t = Trim(t);
            if (t.empty()) continue;
            if (t.size() > 100 || item.tags.size() >= 100) {
              error = "tags: at most 100 tags of at most 100 characters";
              break;
            }
            item.tags.emplace_back(t);
          }
          break;
        }
        case Col::kAvailable: {
          std::string_view t = Trim(v);
          if (t.empty()) break;
          if (auto b = ParseBool(t)) item.available = *b;
          else error = "column '" + names[i] + "' must be true or false";
          break;
        }
        case Col::kExtra:
          if (!names[i].empty() && !v.empty()) props[names[i]] = json::string(v);
          break;
      }
    }
    if (error.empty()) {
      if (item.item_id.empty()) error = "item_id is empty";
      else if (item.item_id.size() > 256) error = "item_id is longer than 256 bytes";
      else if (HasControlChars(item.item_id, false)) error = "item_id contains a control character";
    }
    for (const auto& lim : kTextLimits) {
      if (!error.empty()) break;
      const std::string* field = lim.col == Col::kName        ? &item.name
                                 : lim.col == Col::kCategory  ? &item.category
                                 : lim.col == Col::kBrand     ? &item.brand
                                 : lim.col == Col::kImageUrl  ? &item.image_url
                                                              : &item.description;
      if (Utf8Length(*field) > lim.max_chars) {
        error = std::string(lim.label) + " is longer than " + std::to_string(lim.max_chars) +
                " characters";
      }
    }
    if (!error.empty()) {
      result.Reject({r.record, error, item.item_id.substr(0, 256), ""});
      return Status::Ok();
    }
    item.properties_json = JsonText(props);
    pending.push_back(std::move(item));
    ++result.rows_accepted;
    return pending.size() >= kChunk ? flush() : Status::Ok();
  };

  CsvParser parser({.detect_delimiter = true}, on_record);
  RETURN_IF_ERROR(parser.ParseAll(csv));
  RETURN_IF_ERROR(flush());
  if (!have_header) {
    return Status::Unprocessable("the file is empty: it needs a header row naming its columns")
        .WithReason("empty_file");
  }
  return result;
}

}  // namespace embedrec::ingest
