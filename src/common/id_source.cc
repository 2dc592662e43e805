#include "common/id_source.h"

#include <cstdio>

#include "common/random.h"

namespace embedrec {

namespace {
class RandomIdSource final : public IdSource {
 public:
  std::string Next(std::string_view prefix) override {
    return std::string(prefix) + FastRandomBase62(22);
  }
};
}  // namespace

IdSource* RandomIds() {
  static RandomIdSource source;
  return &source;
}

std::string SequentialIds::Next(std::string_view prefix) {
  char digits[24];
  std::snprintf(digits, sizeof digits, "%06llu", static_cast<unsigned long long>(next_.fetch_add(1)));
  return std::string(prefix) + digits;
}

}  // namespace embedrec
