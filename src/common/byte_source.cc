#include "common/byte_source.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

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

namespace {
class LimitedSource final : public ByteSource {
 public:
  LimitedSource(ByteSource* in, uint64_t max, Status exceeded) : in_(in), max_(max), exceeded_(std::move(exceeded)) {}
  StatusOr<size_t> Read(char* buf, size_t n) override {
    // Ask for one byte past the limit at most: its arrival is the breach.
    const uint64_t room = max_ - std::min(read_, max_) + 1;
    ASSIGN_OR_RETURN(size_t got, in_->Read(buf, static_cast<size_t>(std::min<uint64_t>(n, room))));
    read_ += got;
    if (read_ > max_) return exceeded_;
    return got;
  }

 private:
  ByteSource* in_;
  uint64_t max_, read_ = 0;
  Status exceeded_;
};
}  // namespace

std::unique_ptr<ByteSource> NewLimitedSource(ByteSource* in, uint64_t max_bytes, Status exceeded) {
  return std::make_unique<LimitedSource>(in, max_bytes, std::move(exceeded));
}

std::unique_ptr<ByteSource> NewStringSource(std::string data) {
  return std::make_unique<StringSource>(std::move(data));
}

namespace {

class ReadAheadSource final : public ByteSource {
 public:
  ReadAheadSource(ByteSource* in, size_t chunk_bytes, int depth)
      : in_(in), chunk_bytes_(chunk_bytes), depth_(static_cast<size_t>(std::max(depth, 1))) {
    thread_ = std::thread([this] { Produce(); });
  }
  ~ReadAheadSource() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  StatusOr<size_t> Read(char* buf, size_t n) override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !ready_.empty() || done_; });
    if (ready_.empty()) {
      if (!error_.ok()) return error_;
      return size_t{0};
    }
    std::string& front = ready_.front();
    size_t k = std::min(n, front.size() - front_pos_);
    std::memcpy(buf, front.data() + front_pos_, k);
    front_pos_ += k;
    if (front_pos_ == front.size()) {
      spare_ = std::move(front);
      ready_.pop_front();
      front_pos_ = 0;
      cv_.notify_all();
    }
    return k;
  }

 private:
  void Produce() {
    while (true) {
      std::string chunk;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return ready_.size() < depth_ || stop_; });
        if (stop_) return;
        chunk = std::move(spare_);
      }
      chunk.resize(chunk_bytes_);
      size_t filled = 0;
      Status error;
      bool eof = false;
      // Fill the chunk (a network read returns what has arrived so far).
      while (filled < chunk.size()) {
        StatusOr<size_t> r = in_->Read(chunk.data() + filled, chunk.size() - filled);
        if (!r.ok()) {
          error = r.status();
          break;
        }
        if (*r == 0) {
          eof = true;
          break;
        }
        filled += *r;
      }
      chunk.resize(filled);
      std::lock_guard lock(mu_);
      if (filled > 0) ready_.push_back(std::move(chunk));
      if (!error.ok() || eof) {
        error_ = error;
        done_ = true;
      }
      cv_.notify_all();
      if (done_) return;
    }
  }

  ByteSource* in_;
  const size_t chunk_bytes_;
  const size_t depth_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> ready_;  // chunks read, oldest first
  size_t front_pos_ = 0;           // bytes of ready_.front() already consumed
  std::string spare_;              // a consumed chunk's buffer, reused
  Status error_;
  bool done_ = false;              // the producer has seen the end or an error
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<ByteSource> NewReadAheadSource(ByteSource* in, size_t chunk_bytes, int depth) {
  return std::make_unique<ReadAheadSource>(in, chunk_bytes, depth);
}

}  // namespace embedrec
