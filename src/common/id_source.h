// Where opaque ids come from (recommendation ids, and any id a test must
// predict): injectable, as time is (common/clock.h).
//
// Thread safety: implementations are safe to call from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace embedrec {

class IdSource {
 public:
  virtual ~IdSource() = default;
  // `prefix` + characters of [0-9A-Za-z]; unique within the process's life
  // and, for the real source, across processes (~131 random bits).
  virtual std::string Next(std::string_view prefix) = 0;
};

// The process-wide random source (FastRandomBase62: not for secrets). Never
// null; lives forever.
IdSource* RandomIds();

// prefix + "000001", "000002", …: for tests.
class SequentialIds final : public IdSource {
 public:
  std::string Next(std::string_view prefix) override;

 private:
  std::atomic<uint64_t> next_{1};
};

}  // namespace embedrec
