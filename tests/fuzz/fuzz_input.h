// Helpers shared by the fuzz targets: taking structured choices (chunk
// sizes, a route) from the front of libFuzzer's input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace embedrec::fuzz {

class Input {
 public:
  Input(const uint8_t* data, size_t size) : rest_(reinterpret_cast<const char*>(data), size) {}

  // One byte of the input (0 when it is used up).
  uint8_t Byte() {
    if (rest_.empty()) return 0;
    uint8_t b = static_cast<uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  // The bytes up to the first `sep` (consumed with it); everything left if none.
  std::string_view Until(char sep) {
    size_t at = rest_.find(sep);
    std::string_view out = rest_.substr(0, at);
    rest_.remove_prefix(at == std::string_view::npos ? rest_.size() : at + 1);
    return out;
  }
  std::string_view rest() const { return rest_; }

 private:
  std::string_view rest_;
};

// Traps when `ok` is false: a property the code promises was broken (libFuzzer
// reports it as a crash with the input).
inline void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace embedrec::fuzz
