// Streaming multipart/form-data (RFC 7578) reader: walks the parts of a body
// as it arrives; the current part's content is itself a ByteSource, so a
// 1 GiB file part is never held in memory.
//
// Usage:
//   MultipartReader mp(&body, boundary);
//   MultipartReader::Part part;
//   while (true) { ASSIGN_OR_RETURN(bool more, mp.NextPart(&part)); if (!more) break;
//                  ... mp.Read(buf, n) until 0 ... }
// Unread content of a part is skipped by the next NextPart.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/byte_source.h"

namespace embedrec::ingest {

// The boundary parameter of a multipart/form-data Content-Type, or nullopt.
std::optional<std::string> MultipartBoundary(std::string_view content_type);

class MultipartReader final : public ByteSource {
 public:
  struct Part {
    std::string name;          // form field name
    std::string filename;      // empty for plain fields
    std::string content_type;  // of the part, may be empty
  };

  // `in` is not owned and must outlive the reader.
  MultipartReader(ByteSource* in, std::string boundary);

  // Advances to the next part (skipping what is left of the current one).
  // False after the closing boundary. kInvalidArgument for a malformed body.
  StatusOr<bool> NextPart(Part* part);
  // Reads the current part's content; 0 at its end.
  StatusOr<size_t> Read(char* buf, size_t n) override;
  // Reads the rest of the current part into a string of at most `max` bytes.
  StatusOr<std::string> ReadAll(size_t max);

 private:
  Status Fill(size_t want);  // ensure at least `want` buffered bytes unless the input ended
  void Compact();

  ByteSource* in_;
  std::string delim_;   // "\r\n--" + boundary
  std::string buf_;
  size_t pos_ = 0;
  bool in_eof_ = false;
  bool started_ = false;
  bool in_part_ = false;
  bool finished_ = false;
};

}  // namespace embedrec::ingest
