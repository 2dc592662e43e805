#include "ingest/compression.h"

#include <zlib.h>
#include <zstd.h>

#include <vector>

#include "common/strings.h"

namespace embedrec::ingest {

Compression DetectCompression(std::string_view content_encoding, std::string_view file_name) {
  std::string enc = AsciiLower(Trim(content_encoding));
  if (enc == "gzip" || enc == "x-gzip") return Compression::kGzip;
  if (enc == "zstd") return Compression::kZstd;
  std::string name = AsciiLower(file_name);
  auto ends = [&](std::string_view suf) {
    return name.size() >= suf.size() && name.compare(name.size() - suf.size(), suf.size(), suf) == 0;
  };
  if (ends(".gz") || ends(".gzip")) return Compression::kGzip;
  if (ends(".zst") || ends(".zstd")) return Compression::kZstd;
  return Compression::kNone;
}

namespace {

constexpr size_t kInChunk = 64 * 1024;

class PassThrough final : public ByteSource {
 public:
  explicit PassThrough(ByteSource* in) : in_(in) {}
  StatusOr<size_t> Read(char* buf, size_t n) override { return in_->Read(buf, n); }

 private:
  ByteSource* in_;
};

class GzipSource final : public ByteSource {
 public:
  explicit GzipSource(ByteSource* in) : in_(in), inbuf_(kInChunk) {
    zs_ = {};
    ok_ = inflateInit2(&zs_, 16 + MAX_WBITS) == Z_OK;  // gzip wrapper
  }
  ~GzipSource() override { inflateEnd(&zs_); }

  StatusOr<size_t> Read(char* buf, size_t n) override {
    if (!ok_) return Status::Internal("zlib failed to initialise");
    zs_.next_out = reinterpret_cast<Bytef*>(buf);
    zs_.avail_out = static_cast<uInt>(n);
    while (zs_.avail_out == n && !done_) {
      if (zs_.avail_in == 0) {
        ASSIGN_OR_RETURN(size_t got, in_->Read(inbuf_.data(), inbuf_.size()));
        if (got == 0) return Status::InvalidArgument("gzip data ends early (truncated upload?)");
        zs_.next_in = reinterpret_cast<Bytef*>(inbuf_.data());
        zs_.avail_in = static_cast<uInt>(got);
      }
      int rc = inflate(&zs_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        // Concatenated gzip members are valid gzip: continue with the next one.
        if (zs_.avail_in > 0 || More()) {
          inflateReset(&zs_);
        } else {
          done_ = true;
        }
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        return Status::InvalidArgument(std::string("the gzip data is corrupt: ") +
                                       (zs_.msg ? zs_.msg : "inflate failed"));
      }
    }
    return n - zs_.avail_out;
  }

 private:
  // After a member ends with no input left: is there another member?
  bool More() {
    auto got = in_->Read(inbuf_.data(), inbuf_.size());
    if (!got.ok() || *got == 0) return false;
    zs_.next_in = reinterpret_cast<Bytef*>(inbuf_.data());
    zs_.avail_in = static_cast<uInt>(*got);
    return true;
  }

  ByteSource* in_;
  std::vector<char> inbuf_;
  z_stream zs_;
  bool ok_ = false;
  bool done_ = false;
};

class ZstdSource final : public ByteSource {
 public:
  explicit ZstdSource(ByteSource* in)
      : in_(in), ds_(ZSTD_createDStream()), inbuf_(ZSTD_DStreamInSize()) {
    ZSTD_initDStream(ds_);
  }
  ~ZstdSource() override { ZSTD_freeDStream(ds_); }

  StatusOr<size_t> Read(char* buf, size_t n) override {
    ZSTD_outBuffer out{buf, n, 0};
    while (out.pos == 0) {
      if (in_pos_ == in_len_) {
        if (eof_) {
          if (!frame_done_) return Status::InvalidArgument("zstd data ends early (truncated upload?)");
          return size_t{0};
        }
        ASSIGN_OR_RETURN(size_t got, in_->Read(inbuf_.data(), inbuf_.size()));
        in_len_ = got;
        in_pos_ = 0;
        if (got == 0) {
          eof_ = true;
          continue;
        }
      }
      ZSTD_inBuffer in{inbuf_.data(), in_len_, in_pos_};
      size_t rc = ZSTD_decompressStream(ds_, &out, &in);
      in_pos_ = in.pos;
      if (ZSTD_isError(rc)) {
        return Status::InvalidArgument(std::string("the zstd data is corrupt: ") +
                                       ZSTD_getErrorName(rc));
      }
      frame_done_ = rc == 0;
    }
    return out.pos;
  }

 private:
  ByteSource* in_;
  ZSTD_DStream* ds_;
  std::vector<char> inbuf_;
  size_t in_len_ = 0, in_pos_ = 0;
  bool eof_ = false;
  bool frame_done_ = true;
};

}  // namespace

std::unique_ptr<ByteSource> NewDecompressingSource(ByteSource* inner, Compression c) {
  switch (c) {
    case Compression::kGzip: return std::make_unique<GzipSource>(inner);
    case Compression::kZstd: return std::make_unique<ZstdSource>(inner);
    case Compression::kNone: break;
  }
  return std::make_unique<PassThrough>(inner);
}

std::string ZstdCompress(std::string_view data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
  out.resize(ZSTD_isError(n) ? 0 : n);
  return out;
}

ZstdStreamCompressor::ZstdStreamCompressor(Sink sink, int level)
    : sink_(std::move(sink)), cctx_(ZSTD_createCCtx()), out_(ZSTD_CStreamOutSize(), '\0') {
  ZSTD_CCtx_setParameter(static_cast<ZSTD_CCtx*>(cctx_), ZSTD_c_compressionLevel, level);
}

ZstdStreamCompressor::~ZstdStreamCompressor() { ZSTD_freeCCtx(static_cast<ZSTD_CCtx*>(cctx_)); }

Status ZstdStreamCompressor::Pump(std::string_view data, bool end) {
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  while (true) {
    ZSTD_outBuffer out{out_.data(), out_.size(), 0};
    size_t rc = ZSTD_compressStream2(static_cast<ZSTD_CCtx*>(cctx_), &out, &in,
                                     end ? ZSTD_e_end : ZSTD_e_continue);
    if (ZSTD_isError(rc)) return Status::Internal(std::string("zstd: ") + ZSTD_getErrorName(rc));
    if (out.pos > 0) RETURN_IF_ERROR(sink_(std::string_view(out_.data(), out.pos)));
    bool done = end ? rc == 0 : in.pos == in.size;
    if (done) return Status::Ok();
  }
}

Status ZstdStreamCompressor::Write(std::string_view data) {
  bytes_in_ += data.size();
  return Pump(data, false);
}

Status ZstdStreamCompressor::Finish() { return Pump({}, true); }

}  // namespace embedrec::ingest
