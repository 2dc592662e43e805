// An incremental RFC 4180 CSV parser: bytes go in as they arrive (any chunk
// size, a 1 GiB upload never held whole), records come out one at a time.
//
// Accepted: quoted fields with doubled quotes, commas and newlines inside
// quotes, CRLF or LF line ends (a lone CR too), a UTF-8 byte-order mark at the
// very start, and a last record without a line end. Blank lines between
// records are skipped (not counted as records). The separator is a comma, or
// with `detect_delimiter` whichever of comma, semicolon, tab or bar the first
// record's line holds outside quotes (a comma if it holds one: spreadsheets
// in many locales save ';'-separated files, others save tab-separated ones).
//
// A malformed record (text after a closing quote, an unterminated quote at the
// end, a field or record over the limits) is reported to the callback with
// its error instead of its fields; parsing resumes at the next line end, so
// one bad row costs one row, not the rest of the file.
//
// Record numbering: `record` counts records from 1 (the header row is record
// 1 when the file has one), `line` is the physical line (from 1) where the
// record starts. Both stay right across quoted newlines.
//
// Thread safety: one parser per stream; not shared.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/byte_source.h"
#include "common/status.h"

namespace embedrec {

struct CsvRecord {
  uint64_t record = 0;                   // 1-based record number
  uint64_t line = 0;                     // 1-based line where it starts
  std::vector<std::string_view> fields;  // valid only during the callback
  std::string error;                     // non-empty: malformed, fields is empty
  char delimiter = ',';                  // what separates the fields
};

// `field` as a CSV field: quoted (with doubled quotes) only when it holds a
// comma, quote or line break.
std::string CsvQuote(std::string_view field);

class CsvParser {
 public:
  struct Options {
    size_t max_field_bytes = 1 << 20;   // longer field: the record is malformed
    size_t max_fields = 4096;           // more fields: the record is malformed
    size_t max_record_bytes = 8 << 20;  // longer record: malformed (bounds memory)
    char delimiter = ',';
    // Takes the delimiter from the first record's line instead (see above).
    bool detect_delimiter = false;
  };
  // The callback may stop parsing by returning a non-OK Status, which Feed or
  // Finish then returns.
  using RecordFn = std::function<Status(const CsvRecord&)>;

  CsvParser(Options options, RecordFn on_record);

  // Parses `chunk`, calling the callback for each completed record.
  Status Feed(std::string_view chunk);
  // Ends the input: emits a last record without a line end, or reports an
  // unterminated quote. Call once.
  Status Finish();

  // Reads `in` to its end, feeding every chunk, then calls Finish.
  Status ParseAll(ByteSource* in);

  uint64_t records() const { return record_; }
  uint64_t bytes() const { return bytes_; }

 private:
  enum class State { kStartField, kUnquoted, kQuoted, kQuoteInQuoted, kSkipToEol, kAfterCr };
  void EndField();
  Status EndRecord();
  void Fail(std::string error);
  void OnComma();               // the delimiter outside quotes
  // With detect_delimiter: holds the input until the first line end outside
  // quotes (or max_record_bytes, or the end), then chooses the delimiter and
  // parses what it held. True while it still holds.
  StatusOr<bool> Detecting(std::string_view chunk, bool at_end);
  Status OnLineEnd(char c);     // '\n' or '\r' outside quotes: the record ends
  // Checks the size limits; on a breach marks the record malformed and drops its bytes.
  bool TooLong();
  // Where a fast scan of a field's bytes from chunk[i] stops at the latest:
  // one byte past the limits, so that where a record too long fails (and the
  // line end it resumes after) does not depend on how the input was chunked.
  size_t ScanEnd(size_t i, size_t size) const;

  Options options_;
  RecordFn on_record_;
  State state_ = State::kStartField;
  char delim_;
  bool detecting_;             // the delimiter not chosen yet
  std::string head_;           // what detection holds
  size_t head_start_ = 0;      // where the first record's line starts in it
  bool head_quoted_ = false;   // its scan ended inside quotes
  bool at_start_ = true;       // BOM check pending
  std::string bom_;            // partial BOM bytes across chunks
  std::string buf_;            // bytes of all fields of the current record
  std::vector<size_t> ends_;   // end offsets of fields within buf_
  size_t field_start_ = 0;
  bool record_started_ = false;
  std::string error_;          // set while skipping a malformed record
  uint64_t record_ = 0;
  uint64_t line_ = 1;
  uint64_t record_line_ = 1;
  uint64_t bytes_ = 0;
  CsvRecord out_;
};

}  // namespace embedrec
