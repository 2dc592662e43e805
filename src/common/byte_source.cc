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
class TeeSource final : public ByteSource {
 public:
  TeeSource(ByteSource* in, std::function<Status(std::string_view)> observer)
      : in_(in), observer_(std::move(observer)) {}
  StatusOr<size_t> Read(char* buf, size_t n) override {
    ASSIGN_OR_RETURN(size_t k, in_->Read(buf, n));
    if (k > 0) RETURN_IF_ERROR(observer_(std::string_view(buf, k)));
    return k;
  }

 private:
  ByteSource* in_;
  std::function<Status(std::string_view)> observer_;
};
}  // namespace

std::unique_ptr<ByteSource> NewTeeSource(ByteSource* in,
                                         std::function<Status(std::string_view)> observer) {
  return std::make_unique<TeeSource>(in, std::move(observer));
}

std::unique_ptr<ByteSource> NewStringSource(std::string data) {
  return std::make_unique<StringSource>(std::move(data));
}

}  // namespace embedrec
