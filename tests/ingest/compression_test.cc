#include "ingest/compression.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <random>

namespace embedrec::ingest {
namespace {

std::string Gzip(const std::string& data) {
  z_stream zs{};
  deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, data.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string Drain(ByteSource* s, Status* status, size_t chunk = 1000) {
  std::string out, buf(chunk, '\0');
  while (true) {
    auto k = s->Read(buf.data(), buf.size());
    if (!k.ok()) {
      *status = k.status();
      return out;
    }
    if (*k == 0) return out;
    out.append(buf.data(), *k);
  }
}

std::string Sample() {
  std::string s;
  std::mt19937 rng(1);
  for (int i = 0; i < 200000; ++i) s += "USER_" + std::to_string(rng() % 1000) + ",PROD_1,view\n";
  return s;
}

TEST(CompressionTest, DetectsByEncodingThenFileName) {
  EXPECT_EQ(DetectCompression("gzip", "a.csv"), Compression::kGzip);
  EXPECT_EQ(DetectCompression("zstd", ""), Compression::kZstd);
  EXPECT_EQ(DetectCompression("", "A.CSV.GZ"), Compression::kGzip);
  EXPECT_EQ(DetectCompression("", "a.csv.zst"), Compression::kZstd);
  EXPECT_EQ(DetectCompression("identity", "a.csv"), Compression::kNone);
}

TEST(CompressionTest, GzipAndZstdRoundTrip) {
  std::string data = Sample();
  for (auto [c, packed] : {std::pair{Compression::kGzip, Gzip(data)},
                           std::pair{Compression::kZstd, ZstdCompress(data)}}) {
    ASSERT_LT(packed.size(), data.size() / 3);
    auto src = NewStringSource(packed);
    auto dec = NewDecompressingSource(src.get(), c);
    Status st;
    EXPECT_EQ(Drain(dec.get(), &st, 777), data);
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
}

TEST(CompressionTest, ConcatenatedGzipMembersAreOneStream) {
  auto src = NewStringSource(Gzip("a,b\n") + Gzip("c,d\n"));
  auto dec = NewDecompressingSource(src.get(), Compression::kGzip);
  Status st;
  EXPECT_EQ(Drain(dec.get(), &st), "a,b\nc,d\n");
  EXPECT_TRUE(st.ok());
}

TEST(CompressionTest, TruncatedOrCorruptInputIsAnError) {
  std::string data = Sample();
  for (auto [c, packed] : {std::pair{Compression::kGzip, Gzip(data)},
                           std::pair{Compression::kZstd, ZstdCompress(data)}}) {
    auto cut = NewStringSource(packed.substr(0, packed.size() / 2));
    auto dec = NewDecompressingSource(cut.get(), c);
    Status st;
    Drain(dec.get(), &st);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    auto junk = NewStringSource("this is not compressed at all, not even a little");
    auto dec2 = NewDecompressingSource(junk.get(), c);
    Status st2;
    Drain(dec2.get(), &st2);
    EXPECT_EQ(st2.code(), StatusCode::kInvalidArgument);
  }
}

TEST(CompressionTest, StreamCompressorRoundTrips) {
  std::string data = Sample(), packed;
  ZstdStreamCompressor z([&](std::string_view b) {
    packed.append(b);
    return Status::Ok();
  });
  for (size_t i = 0; i < data.size(); i += 10007) {
    ASSERT_TRUE(z.Write(std::string_view(data).substr(i, 10007)).ok());
  }
  ASSERT_TRUE(z.Finish().ok());
  EXPECT_LT(packed.size(), data.size() / 3);
  auto src = NewStringSource(packed);
  auto dec = NewDecompressingSource(src.get(), Compression::kZstd);
  Status st;
  EXPECT_EQ(Drain(dec.get(), &st), data);
  EXPECT_TRUE(st.ok());
}

}  // namespace
}  // namespace embedrec::ingest
