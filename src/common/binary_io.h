// Small binary formats written and read field by field, in host byte order
// (model files, serving snapshots; sealed by their writers, see
// common/sealed_file.h): fixed-size values, strings as a 32-bit length and
// their bytes, arrays of fixed-size values. Reads past the end fail.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace embedrec {

template <typename T>
void PutBinary(std::string* out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out->append(b, sizeof(T));
}

inline void PutBinaryString(std::string* out, std::string_view s) {
  PutBinary<uint32_t>(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

class BinaryReader {
 public:
  explicit BinaryReader(std::string_view b) : b_(b) {}
  template <typename T>
  bool Get(T* v) {
    if (b_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  // A string of at most `max` bytes.
  bool GetString(std::string* s, size_t max) {
    uint32_t n;
    if (!Get(&n) || n > max || b_.size() - pos_ < n) return false;
    s->assign(b_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  template <typename T>
  bool GetArray(std::vector<T>* v, uint64_t count) {
    if (count > (b_.size() - pos_) / sizeof(T)) return false;
    v->resize(count);
    if (count > 0) std::memcpy(v->data(), b_.data() + pos_, count * sizeof(T));  // data() may be null
    pos_ += count * sizeof(T);
    return true;
  }
  size_t remaining() const { return b_.size() - pos_; }

 private:
  std::string_view b_;
  size_t pos_ = 0;
};

}  // namespace embedrec
