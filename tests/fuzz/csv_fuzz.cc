// The CSV reader (common/csv.h) on any bytes, split into chunks the input
// chooses, with the delimiter fixed or detected (the input chooses). Besides
// the sanitizers' checks, a property: the records (fields, errors,
// numbering, delimiter) do not depend on how the bytes were chunked. Each
// field is also read as a number as an export writes it
// (ingest/written_number.h): what it reads is plain, reads again as itself,
// and keeps the field's digits in their order.
#include <string>
#include <vector>

#include "common/csv.h"
#include "fuzz_input.h"
#include "ingest/written_number.h"

namespace {
using embedrec::CsvParser;
using embedrec::CsvRecord;
using embedrec::Status;

struct Seen {
  uint64_t record, line;
  std::vector<std::string> fields;
  std::string error;
  char delimiter;
  bool operator==(const Seen&) const = default;
};

std::vector<Seen> Parse(std::string_view text, const std::vector<size_t>& chunks, bool detect) {
  std::vector<Seen> out;
  // Small limits, so the too-long paths run too.
  CsvParser::Options options{
      .max_field_bytes = 64, .max_fields = 8, .max_record_bytes = 256, .detect_delimiter = detect};
  CsvParser parser(options, [&](const CsvRecord& r) {
    Seen s{r.record, r.line, {}, r.error, r.delimiter};
    for (auto f : r.fields) s.fields.emplace_back(f);
    embedrec::fuzz::Check(r.error.empty() || r.fields.empty());
    out.push_back(std::move(s));
    return Status::Ok();
  });
  size_t at = 0;
  for (size_t c : chunks) {
    if (at >= text.size()) break;
    size_t n = std::min(c, text.size() - at);
    embedrec::fuzz::Check(parser.Feed(text.substr(at, n)).ok());
    at += n;
  }
  if (at < text.size()) embedrec::fuzz::Check(parser.Feed(text.substr(at)).ok());
  embedrec::fuzz::Check(parser.Finish().ok());
  embedrec::fuzz::Check(parser.bytes() == text.size());
  return out;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

void CheckNumber(std::string_view field, embedrec::ingest::NumberStyle style) {
  auto n = embedrec::ingest::ReadWrittenNumber(field, style);
  if (!n) return;
  const std::string& p = n->plain;
  // An optional '-', digits, an optional '.' and at least one digit after it; a digit somewhere.
  size_t i = p.starts_with('-') ? 1 : 0;
  const size_t point = p.find('.');
  embedrec::fuzz::Check(point == std::string::npos || (point + 1 < p.size() && p.find('.', point + 1) == std::string::npos));
  bool digit = false;
  for (; i < p.size(); ++i) {
    embedrec::fuzz::Check(IsDigit(p[i]) || i == point);
    digit = digit || IsDigit(p[i]);
  }
  embedrec::fuzz::Check(digit);
  embedrec::fuzz::Check(style.amount || n->currency.empty());
  // The field's digits, in order, are the reading's (currency codes hold none).
  std::string digits_in, digits_out;
  for (char c : field) if (IsDigit(c)) digits_in += c;
  for (char c : p) if (IsDigit(c)) digits_out += c;
  embedrec::fuzz::Check(digits_in == digits_out);
  auto again = embedrec::ingest::ReadWrittenNumber(p, style);
  embedrec::fuzz::Check(again && again->plain == p && again->currency.empty());
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  embedrec::fuzz::Input in(data, size);
  std::vector<size_t> chunks;
  const bool detect = in.Byte() % 2 == 1;
  for (int i = 0, n = in.Byte() % 8; i < n; ++i) chunks.push_back(1 + in.Byte() % 16);
  std::string_view text = in.rest();
  auto whole = Parse(text, {}, detect);
  auto chunked = Parse(text, chunks, detect);
  embedrec::fuzz::Check(whole == chunked);
  for (const Seen& s : whole) {
    for (const std::string& f : s.fields) CheckNumber(f, {.delimiter = s.delimiter, .amount = s.record % 2 == 1});
  }
  return 0;
}
