#include "common/byte_source.h"

#include <algorithm>
#include <cstring>

namespace embedrec {
namespace {
class StringSource final : public ByteSource {
 public:
  explicit StringSource(std::string data) : data_(std::move(data)) {}
  StatusOr<size_t> Read(char* buf, size_t n) override {
    size_t k = std::min(n, data_.size() - pos_);
    std::memcpy(buf, data_.data() + pos_, k);
    pos_ += k;
    return k;
  }

 private:
  std::string data_;
  size_t pos_ = 0;
};
}  // namespace

std::unique_ptr<ByteSource> NewStringSource(std::string data) {
  return std::make_unique<StringSource>(std::move(data));
}

}  // namespace embedrec
