#include "common/byte_source.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>

namespace embedrec {
namespace {

// Hands out `data` in pieces of at most `piece` bytes, then fails with
// `error` (if set) instead of ending.
class PieceSource final : public ByteSource {
 public:
  PieceSource(std::string data, size_t piece, Status error = Status::Ok())
      : data_(std::move(data)), piece_(piece), error_(std::move(error)) {}
  StatusOr<size_t> Read(char* buf, size_t n) override {
    ++reads;
    if (pos_ == data_.size()) {
      if (!error_.ok()) return error_;
      return size_t{0};
    }
    size_t k = std::min({n, piece_, data_.size() - pos_});
    std::memcpy(buf, data_.data() + pos_, k);
    pos_ += k;
    return k;
  }
  std::atomic<int> reads{0};

 private:
  std::string data_;
  size_t piece_;
  size_t pos_ = 0;
  Status error_;
};

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7) % 26);
  return s;
}

StatusOr<std::string> ReadAll(ByteSource* s, size_t step) {
  std::string out, buf(step, '\0');
  while (true) {
    ASSIGN_OR_RETURN(size_t k, s->Read(buf.data(), buf.size()));
    if (k == 0) return out;
    out.append(buf.data(), k);
  }
}

TEST(LimitedSourceTest, PassesUpToTheLimitAndFailsOnTheByteBeyond) {
  const Status exceeded(StatusCode::kPayloadTooLarge, "too big", "upload_quota_exceeded");
  for (size_t step : {1, 7, 4096}) {
    PieceSource exact(Pattern(100), 13);
    auto limited = NewLimitedSource(&exact, 100, exceeded);
    auto all = ReadAll(limited.get(), step);
    ASSERT_TRUE(all.ok()) << step;
    EXPECT_EQ(*all, Pattern(100));
    PieceSource over(Pattern(101), 13);
    auto capped = NewLimitedSource(&over, 100, exceeded);
    auto refused = ReadAll(capped.get(), step);
    ASSERT_FALSE(refused.ok()) << step;
    EXPECT_EQ(refused.status().reason(), "upload_quota_exceeded");
  }
}

TEST(ReadAheadSourceTest, PassesEveryByteInOrder) {
  std::string data = Pattern(100003);
  PieceSource in(data, 777);
  auto ahead = NewReadAheadSource(&in, 4096, 3);
  auto out = ReadAll(ahead.get(), 1000);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, data);
}

TEST(ReadAheadSourceTest, EmptyInputEndsAtOnce) {
  PieceSource in("", 10);
  auto ahead = NewReadAheadSource(&in, 16, 2);
  auto out = ReadAll(ahead.get(), 8);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, "");
}

TEST(ReadAheadSourceTest, ReportsAnErrorAfterTheBytesBeforeIt) {
  std::string data = Pattern(5000);
  PieceSource in(data, 300, Status::Unavailable("connection dropped"));
  auto ahead = NewReadAheadSource(&in, 1024, 2);
  std::string got, buf(100, '\0');
  Status err;
  while (true) {
    auto k = ahead->Read(buf.data(), buf.size());
    if (!k.ok()) {
      err = k.status();
      break;
    }
    ASSERT_GT(*k, 0u) << "ended without the error";
    got.append(buf.data(), *k);
  }
  EXPECT_EQ(got, data);
  EXPECT_EQ(err.code(), StatusCode::kUnavailable);
}

TEST(ReadAheadSourceTest, StopsReadingWhenDroppedEarly) {
  std::string data = Pattern(1 << 20);
  PieceSource in(data, 100);
  {
    auto ahead = NewReadAheadSource(&in, 1000, 2);
    char c;
    ASSERT_TRUE(ahead->Read(&c, 1).ok());
  }  // joins without reading the whole input
  EXPECT_LT(in.reads.load(), 100);
}

}  // namespace
}  // namespace embedrec
