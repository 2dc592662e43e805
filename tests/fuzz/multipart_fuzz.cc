// The multipart/form-data reader (ingest/multipart.h): a Content-Type header
// line, then the body, read in sizes the input chooses. It must end (parts
// finish, the closing boundary or an error) and never read out of bounds.
#include <string>

#include "common/byte_source.h"
#include "fuzz_input.h"
#include "ingest/multipart.h"

namespace {
// Serves the body in pieces of the chosen sizes, like a network would.
class ChunkedSource final : public embedrec::ByteSource {
 public:
  ChunkedSource(std::string_view bytes, size_t step) : bytes_(bytes), step_(step) {}
  embedrec::StatusOr<size_t> Read(char* buf, size_t n) override {
    n = std::min({n, step_, bytes_.size()});
    std::copy_n(bytes_.data(), n, buf);
    bytes_.remove_prefix(n);
    return n;
  }

 private:
  std::string_view bytes_;
  size_t step_;
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  embedrec::fuzz::Input in(data, size);
  const size_t step = 1 + in.Byte() % 64;
  const size_t read_size = 1 + in.Byte() % 32;
  auto boundary = embedrec::ingest::MultipartBoundary(in.Until('\n'));
  if (!boundary) return 0;
  ChunkedSource body(in.rest(), step);
  embedrec::ingest::MultipartReader reader(&body, *boundary);
  embedrec::ingest::MultipartReader::Part part;
  uint64_t total = 0;
  for (int parts = 0;; ++parts) {
    auto more = reader.NextPart(&part);
    if (!more.ok() || !*more) break;
    if (parts % 2 == 0) {  // read some parts whole, skip others unread
      char buf[32];
      while (true) {
        auto n = reader.Read(buf, read_size);
        if (!n.ok() || *n == 0) break;
        embedrec::fuzz::Check(*n <= read_size);
        total += *n;
      }
    }
  }
  embedrec::fuzz::Check(total <= size);
  return 0;
}
