#include "common/csv.h"

#include <algorithm>

namespace embedrec {

std::string CsvQuote(std::string_view s) {
  if (s.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += "\"\"";
    else out += c;
  }
  return out + "\"";
}

CsvParser::CsvParser(Options options, RecordFn on_record)
    : options_(options),
      on_record_(std::move(on_record)),
      delim_(options.delimiter),
      detecting_(options.detect_delimiter) {}

StatusOr<bool> CsvParser::Detecting(std::string_view chunk, bool at_end) {
  size_t i = head_.size();
  head_.append(chunk);
  // The first record's line: from its first byte (blank lines before it
  // skipped) to the first line end outside quotes (a quote toggles; a
  // doubled one toggles twice). Only what is new is scanned.
  while (head_start_ == i && i < head_.size() && (head_[i] == '\n' || head_[i] == '\r')) head_start_ = ++i;
  size_t end = std::string::npos;
  for (; i < head_.size(); ++i) {
    if (head_[i] == '"') {
      head_quoted_ = !head_quoted_;
    } else if (!head_quoted_ && (head_[i] == '\n' || head_[i] == '\r')) {
      end = i;
      break;
    }
  }
  if (end == std::string::npos && !at_end && head_.size() <= options_.max_record_bytes) return true;
  size_t counts[4] = {};
  static constexpr char kCandidates[4] = {',', ';', '\t', '|'};
  bool quoted = false;
  for (size_t j = head_start_; j < std::min(end, head_.size()); ++j) {
    if (head_[j] == '"') quoted = !quoted;
    for (int k = 0; k < 4 && !quoted; ++k) counts[k] += head_[j] == kCandidates[k];
  }
  if (counts[0] == 0) {
    const size_t* most = std::max_element(counts + 1, counts + 4);
    if (*most > 0) delim_ = kCandidates[most - counts];
  }
  detecting_ = false;
  std::string held = std::move(head_);
  head_.clear();
  bytes_ -= held.size();  // counted as it came; Feed counts it again
  RETURN_IF_ERROR(Feed(held));
  return false;
}

void CsvParser::EndField() {
  ends_.push_back(buf_.size());
  field_start_ = buf_.size();
}

size_t CsvParser::ScanEnd(size_t i, size_t size) const {
  const size_t field = buf_.size() - field_start_;
  const size_t room = std::min(options_.max_field_bytes - std::min(field, options_.max_field_bytes),
                               options_.max_record_bytes - std::min(buf_.size(), options_.max_record_bytes));
  return size - i > room + 1 ? i + room + 1 : size;
}

bool CsvParser::TooLong() {
  if (buf_.size() - field_start_ > options_.max_field_bytes) {
    Fail("a field is longer than " + std::to_string(options_.max_field_bytes) + " bytes");
  } else if (buf_.size() > options_.max_record_bytes) {
    Fail("the record is longer than " + std::to_string(options_.max_record_bytes) + " bytes");
  } else {
    return false;
  }
  buf_.clear();  // nothing of a malformed record is kept
  ends_.clear();
  field_start_ = 0;
  return true;
}

void CsvParser::OnComma() {
  EndField();
  state_ = State::kStartField;
  if (ends_.size() >= options_.max_fields) {
    Fail("more than " + std::to_string(options_.max_fields) + " fields");
  }
}

Status CsvParser::OnLineEnd(char c) {
  EndField();  // harmless for a malformed record: its fields are not reported
  ++line_;
  Status s = EndRecord();
  state_ = c == '\r' ? State::kAfterCr : State::kStartField;
  return s;
}

void CsvParser::Fail(std::string error) {
  if (error_.empty()) error_ = std::move(error);
  state_ = State::kSkipToEol;
}

Status CsvParser::EndRecord() {
  ++record_;
  out_.record = record_;
  out_.line = record_line_;
  out_.fields.clear();
  out_.error = std::move(error_);
  out_.delimiter = delim_;
  error_.clear();
  if (out_.error.empty()) {
    size_t start = 0;
    for (size_t end : ends_) {
      out_.fields.emplace_back(buf_.data() + start, end - start);
      start = end;
    }
  }
  Status s = on_record_(out_);
  buf_.clear();
  ends_.clear();
  field_start_ = 0;
  record_started_ = false;
  return s;
}

Status CsvParser::Feed(std::string_view chunk) {
  bytes_ += chunk.size();
  if (at_start_) {
    static constexpr std::string_view kBom = "\xEF\xBB\xBF";
    while (!chunk.empty() && bom_.size() < 3 && chunk[0] == kBom[bom_.size()]) {
      bom_.push_back(chunk[0]);
      chunk.remove_prefix(1);
    }
    if (bom_.size() < 3 && chunk.empty()) return Status::Ok();  // maybe more BOM next chunk
    at_start_ = false;
    if (bom_.size() != 3 && !bom_.empty()) {
      // Not a BOM after all: those bytes were data.
      std::string head = bom_;
      bom_.clear();
      RETURN_IF_ERROR(Feed(head));
      bytes_ -= head.size();
    }
  }
  if (detecting_) return Detecting(chunk, false).status();
  for (size_t i = 0; i < chunk.size(); ++i) {
    char c = chunk[i];
    switch (state_) {
      case State::kAfterCr:
        state_ = State::kStartField;
        if (c == '\n') continue;  // CRLF: the record already ended at CR
        [[fallthrough]];
      case State::kStartField:
        if (!record_started_) {
          if (c == '\n' || c == '\r') {  // blank line
            ++line_;
            if (c == '\r') state_ = State::kAfterCr;
            continue;
          }
          record_started_ = true;
          record_line_ = line_;
        }
        if (c == '"') {
          state_ = State::kQuoted;
        } else if (c == delim_) {
          OnComma();
        } else if (c == '\n' || c == '\r') {
          RETURN_IF_ERROR(OnLineEnd(c));
        } else {
          buf_.push_back(c);
          state_ = State::kUnquoted;
          TooLong();  // a breach: skip to the line end
        }
        break;
      case State::kUnquoted: {
        // Fast path: copy the run of ordinary bytes at once.
        const size_t stop = ScanEnd(i, chunk.size());
        size_t j = i;
        while (j < stop && chunk[j] != delim_ && chunk[j] != '\n' && chunk[j] != '\r' &&
               chunk[j] != '"') {
          ++j;
        }
        buf_.append(chunk.data() + i, j - i);
        i = j;
        if (TooLong()) {
          --i;
          break;
        }
        if (i == chunk.size()) break;
        c = chunk[i];
        if (c == delim_) {
          OnComma();
        } else if (c == '\n' || c == '\r') {
          RETURN_IF_ERROR(OnLineEnd(c));
        } else {  // a quote inside an unquoted field
          Fail("a quote inside an unquoted field (quote the whole field and double the quote)");
        }
        break;
      }
      case State::kQuoted: {
        const size_t stop = ScanEnd(i, chunk.size());
        size_t j = i;
        while (j < stop && chunk[j] != '"') {
          if (chunk[j] == '\n') ++line_;
          ++j;
        }
        buf_.append(chunk.data() + i, j - i);
        i = j;
        if (TooLong()) {  // resynchronises at the next line end
          --i;
          break;
        }
        if (i < chunk.size()) state_ = State::kQuoteInQuoted;
        break;
      }
      case State::kQuoteInQuoted:
        if (c == '"') {
          buf_.push_back('"');
          state_ = State::kQuoted;
          TooLong();  // a breach: skip to the line end
        } else if (c == delim_) {
          OnComma();
        } else if (c == '\n' || c == '\r') {
          RETURN_IF_ERROR(OnLineEnd(c));
        } else {
          Fail("unexpected text after a closing quote");
        }
        break;
      case State::kSkipToEol:
        if (c == '\n' || c == '\r') RETURN_IF_ERROR(OnLineEnd(c));
        break;
    }
  }
  return Status::Ok();
}

Status CsvParser::ParseAll(ByteSource* in) {
  std::string buf(256 * 1024, '\0');
  while (true) {
    ASSIGN_OR_RETURN(size_t n, in->Read(buf.data(), buf.size()));
    if (n == 0) break;
    RETURN_IF_ERROR(Feed(std::string_view(buf.data(), n)));
  }
  return Finish();
}

Status CsvParser::Finish() {
  if (at_start_ && !bom_.empty()) {
    at_start_ = false;
    std::string head = bom_;
    bom_.clear();
    if (head.size() != 3) {
      RETURN_IF_ERROR(Feed(head));  // data after all, counted once already
      bytes_ -= head.size();
    }
  }
  if (detecting_) RETURN_IF_ERROR(Detecting("", true).status());
  switch (state_) {
    case State::kQuoted:
      Fail("a quoted field is not closed before the end of the file");
      return EndRecord();
    case State::kUnquoted:
    case State::kQuoteInQuoted:
      EndField();
      return EndRecord();
    case State::kStartField:
      if (record_started_) {  // e.g. "a,b," then EOF: last field empty
        EndField();
        return EndRecord();
      }
      return Status::Ok();
    case State::kSkipToEol:
      return EndRecord();
    case State::kAfterCr:
      return Status::Ok();
  }
  return Status::Ok();
}

}  // namespace embedrec
