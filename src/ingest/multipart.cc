#include "ingest/multipart.h"

#include <algorithm>
#include <cstring>

#include "common/strings.h"

namespace embedrec::ingest {

namespace {
constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxHeaderBytes = 16 * 1024;

// Value of parameter `key` in a header like `form-data; name="file"; filename="a.csv"`.
std::string Param(std::string_view header, std::string_view key) {
  for (auto piece : Split(header, ';')) {
    piece = Trim(piece);
    size_t eq = piece.find('=');
    if (eq == std::string_view::npos) continue;
    if (AsciiLower(Trim(piece.substr(0, eq))) != key) continue;
    std::string_view v = Trim(piece.substr(eq + 1));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return std::string(v);
  }
  return {};
}
}  // namespace

std::optional<std::string> MultipartBoundary(std::string_view content_type) {
  size_t semi = content_type.find(';');
  if (AsciiLower(Trim(content_type.substr(0, semi))) != "multipart/form-data") return std::nullopt;
  if (semi == std::string_view::npos) return std::nullopt;
  std::string b = Param(content_type.substr(semi + 1), "boundary");
  if (b.empty() || b.size() > 70) return std::nullopt;
  return b;
}

MultipartReader::MultipartReader(ByteSource* in, std::string boundary)
    : in_(in), delim_("\r\n--" + boundary) {
  buf_ = "\r\n";  // the first boundary has no CRLF before it; pretend it does
}

void MultipartReader::Compact() {
  if (pos_ > 0 && pos_ >= buf_.size() / 2) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
}

Status MultipartReader::Fill(size_t want) {
  Compact();
  while (buf_.size() - pos_ < want && !in_eof_) {
    size_t old = buf_.size();
    buf_.resize(old + kReadChunk);
    auto got = in_->Read(buf_.data() + old, kReadChunk);
    if (!got.ok()) {
      buf_.resize(old);
      return got.status();
    }
    buf_.resize(old + *got);
    if (*got == 0) in_eof_ = true;
  }
  return Status::Ok();
}

StatusOr<size_t> MultipartReader::Read(char* buf, size_t n) {
  if (!in_part_ || n == 0) return size_t{0};
  RETURN_IF_ERROR(Fill(delim_.size() + n));
  std::string_view avail(buf_.data() + pos_, buf_.size() - pos_);
  size_t at = avail.find(delim_);
  size_t safe;
  if (at != std::string_view::npos) {
    safe = at;
  } else if (in_eof_) {
    return Status::InvalidArgument("multipart body ends inside a part (truncated upload?)");
  } else {
    safe = avail.size() >= delim_.size() ? avail.size() - (delim_.size() - 1) : 0;
  }
  size_t k = std::min(n, safe);
  std::memcpy(buf, avail.data(), k);
  pos_ += k;
  if (k == 0 && at == 0) in_part_ = false;  // reached the delimiter
  return k;
}

StatusOr<std::string> MultipartReader::ReadAll(size_t max) {
  std::string out;
  char tmp[4096];
  while (true) {
    ASSIGN_OR_RETURN(size_t k, Read(tmp, sizeof tmp));
    if (k == 0) return out;
    if (out.size() + k > max) return Status::Unprocessable("a form field is too long");
    out.append(tmp, k);
  }
}

StatusOr<bool> MultipartReader::NextPart(Part* part) {
  if (finished_) return false;
  char skip[8192];
  while (in_part_) {  // skip the rest of the current part
    ASSIGN_OR_RETURN(size_t k, Read(skip, sizeof skip));
    (void)k;
  }
  // Expect the delimiter, then "--" (end) or CRLF and the part's headers.
  RETURN_IF_ERROR(Fill(delim_.size() + 2));
  std::string_view avail(buf_.data() + pos_, buf_.size() - pos_);
  if (!started_) {
    // Ignore a preamble before the first boundary.
    size_t at = avail.find(delim_);
    while (at == std::string_view::npos && !in_eof_) {
      pos_ = buf_.size() > delim_.size() ? buf_.size() - delim_.size() : pos_;
      RETURN_IF_ERROR(Fill(delim_.size() + kReadChunk));
      avail = std::string_view(buf_.data() + pos_, buf_.size() - pos_);
      at = avail.find(delim_);
    }
    if (at == std::string_view::npos) {
      return Status::InvalidArgument("multipart body has no boundary line");
    }
    pos_ += at;
    started_ = true;
    RETURN_IF_ERROR(Fill(delim_.size() + 2));
    avail = std::string_view(buf_.data() + pos_, buf_.size() - pos_);
  }
  if (avail.substr(0, delim_.size()) != delim_) {
    return Status::InvalidArgument("multipart body is malformed: boundary expected");
  }
  pos_ += delim_.size();
  avail.remove_prefix(delim_.size());
  if (avail.substr(0, 2) == "--") {
    finished_ = true;
    return false;
  }
  // Headers up to an empty line.
  size_t end;
  while (true) {
    avail = std::string_view(buf_.data() + pos_, buf_.size() - pos_);
    end = avail.find("\r\n\r\n");
    if (end != std::string_view::npos) break;
    if (avail.size() > kMaxHeaderBytes) return Status::InvalidArgument("multipart part headers are too large");
    if (in_eof_) return Status::InvalidArgument("multipart body ends inside part headers");
    RETURN_IF_ERROR(Fill(avail.size() + kReadChunk));
  }
  std::string_view headers = avail.substr(0, end);
  *part = Part{};
  size_t line_start = 0;
  while (line_start <= headers.size()) {
    size_t nl = headers.find("\r\n", line_start);
    std::string_view line = headers.substr(line_start, nl == std::string_view::npos ? nl : nl - line_start);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string name = AsciiLower(Trim(line.substr(0, colon)));
      std::string_view value = Trim(line.substr(colon + 1));
      if (name == "content-disposition") {
        part->name = Param(value, "name");
        part->filename = Param(value, "filename");
      } else if (name == "content-type") {
        part->content_type = std::string(value);
      }
    }
    if (nl == std::string_view::npos) break;
    line_start = nl + 2;
  }
  pos_ += end + 4;
  // The delimiter search in Read starts from the content; the first part's
  // content may follow directly.
  in_part_ = true;
  return true;
}

}  // namespace embedrec::ingest
