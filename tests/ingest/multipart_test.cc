#include "ingest/multipart.h"

#include <gtest/gtest.h>

#include <cstring>

namespace embedrec::ingest {
namespace {

// Hands out its data `step` bytes at a time, to exercise every split point.
class Trickle final : public ByteSource {
 public:
  Trickle(std::string d, size_t step) : d_(std::move(d)), step_(step) {}
  StatusOr<size_t> Read(char* buf, size_t n) override {
    size_t k = std::min({n, step_, d_.size() - pos_});
    std::memcpy(buf, d_.data() + pos_, k);
    pos_ += k;
    return k;
  }

 private:
  std::string d_;
  size_t step_, pos_ = 0;
};

std::string Body() {
  return "preamble\r\n"
         "--XyZ\r\n"
         "Content-Disposition: form-data; name=\"tenant_id\"\r\n\r\n"
         "t-123\r\n"
         "--XyZ\r\n"
         "Content-Disposition: form-data; name=\"file\"; filename=\"items.csv\"\r\n"
         "Content-Type: text/csv\r\n\r\n"
         "item_id,name\r\nP1,\"a\r\n--XyQ-ish\"\r\n"
         "\r\n--XyZ--\r\n";
}

TEST(MultipartTest, ParsesBoundaryFromContentType) {
  EXPECT_EQ(MultipartBoundary("multipart/form-data; boundary=XyZ").value(), "XyZ");
  EXPECT_EQ(MultipartBoundary("Multipart/Form-Data; charset=x; boundary=\"a b\"").value(), "a b");
  EXPECT_FALSE(MultipartBoundary("text/csv").has_value());
  EXPECT_FALSE(MultipartBoundary("multipart/form-data").has_value());
}

TEST(MultipartTest, ReadsFieldsAndFileAtEverySplit) {
  for (size_t step = 1; step <= 64; ++step) {
    Trickle src(Body(), step);
    MultipartReader mp(&src, "XyZ");
    MultipartReader::Part part;
    auto more = mp.NextPart(&part);
    ASSERT_TRUE(more.ok() && *more) << step;
    EXPECT_EQ(part.name, "tenant_id");
    EXPECT_EQ(mp.ReadAll(100).value(), "t-123");
    more = mp.NextPart(&part);
    ASSERT_TRUE(more.ok() && *more) << step;
    EXPECT_EQ(part.name, "file");
    EXPECT_EQ(part.filename, "items.csv");
    EXPECT_EQ(part.content_type, "text/csv");
    EXPECT_EQ(mp.ReadAll(1000).value(), "item_id,name\r\nP1,\"a\r\n--XyQ-ish\"\r\n") << step;
    more = mp.NextPart(&part);
    ASSERT_TRUE(more.ok());
    EXPECT_FALSE(*more);
  }
}

TEST(MultipartTest, SkipsUnreadParts) {
  Trickle src(Body(), 7);
  MultipartReader mp(&src, "XyZ");
  MultipartReader::Part part;
  ASSERT_TRUE(*mp.NextPart(&part));
  ASSERT_TRUE(*mp.NextPart(&part));  // tenant_id content never read
  EXPECT_EQ(part.name, "file");
}

TEST(MultipartTest, TruncatedBodyIsAnError) {
  std::string body = Body();
  body.resize(body.size() - 12);  // cut inside the file part
  Trickle src(body, 5);
  MultipartReader mp(&src, "XyZ");
  MultipartReader::Part part;
  ASSERT_TRUE(*mp.NextPart(&part));
  ASSERT_TRUE(*mp.NextPart(&part));
  EXPECT_EQ(mp.ReadAll(1000).status().code(), StatusCode::kInvalidArgument);
  Trickle none("no boundary here", 4);
  MultipartReader mp2(&none, "XyZ");
  EXPECT_FALSE(mp2.NextPart(&part).ok());
}

}  // namespace
}  // namespace embedrec::ingest
