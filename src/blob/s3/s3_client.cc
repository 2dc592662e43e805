#include "blob/s3/s3_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "blob/s3/sigv4.h"
#include "common/random.h"

namespace embedrec::blob {
namespace {

// curl_global_init is not thread-safe: run it once, before any handle.
void GlobalInit() {
  static const bool done = [] { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }();
  (void)done;
}

size_t AppendBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

size_t KeepEtag(char* data, size_t size, size_t n, void* out) {
  std::string_view line(data, size * n);
  constexpr std::string_view kName = "etag:";
  if (line.size() > kName.size()) {
    bool match = true;
    for (size_t i = 0; i < kName.size() && match; ++i) {
      match = std::tolower(static_cast<unsigned char>(line[i])) == kName[i];
    }
    if (match) {
      std::string_view v = line.substr(kName.size());
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
      *static_cast<std::string*>(out) = std::string(v);
    }
  }
  return size * n;
}

}  // namespace

struct S3Client::Handle {
  CURL* curl = nullptr;
  ~Handle() {
    if (curl) curl_easy_cleanup(curl);
  }
};

S3Client::S3Client(S3Options options) : options_(std::move(options)) {
  GlobalInit();
  std::string scheme = "https://";
  if (options_.endpoint.empty()) {
    host_ = options_.bucket + ".s3." + options_.region + ".amazonaws.com";
  } else {
    std::string e = options_.endpoint;
    if (size_t p = e.find("://"); p != std::string::npos) {
      scheme = e.substr(0, p + 3);
      e = e.substr(p + 3);
    }
    host_ = e.substr(0, e.find('/'));
    bucket_path_ = "/" + options_.bucket;  // path-style
  }
  origin_ = scheme + host_;
  // The Host header libcurl sends leaves a scheme's default port out: so
  // does the signed one.
  const std::string default_port = scheme == "https://" ? ":443" : ":80";
  if (host_.size() > default_port.size() &&
      host_.compare(host_.size() - default_port.size(), default_port.size(), default_port) == 0) {
    host_.resize(host_.size() - default_port.size());
  }
  credentials_ = {options_.access_key, options_.secret_key, options_.region, "s3"};
}

S3Client::~S3Client() = default;

std::unique_ptr<S3Client::Handle> S3Client::Acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      auto h = std::move(idle_.back());
      idle_.pop_back();
      return h;
    }
  }
  auto h = std::make_unique<Handle>();
  h->curl = curl_easy_init();
  return h;
}

void S3Client::Release(std::unique_ptr<Handle> h) {
  std::lock_guard lock(mu_);
  if (idle_.size() < 16) idle_.push_back(std::move(h));
}

StatusOr<S3Response> S3Client::Once(Handle& h, const std::string& method, const std::string& path,
                                    const Query& query, const std::string& body) {
  if (!h.curl) return Status::Internal("curl_easy_init failed");
  CURL* c = h.curl;
  curl_easy_reset(c);  // keeps the handle's open connections
  S3Response r;
  // Signed in canonical form (every reserved character encoded); sent with
  // '/' left as is, which S3 reads the same. (moto, the test endpoint,
  // checks the signature of the query as sent encoded once more: a prefix
  // sent as "a%2Fb" would fail there, "a/b" passes both.)
  std::string canonical, wire;
  for (const auto& [k, v] : query) {
    canonical += (canonical.empty() ? "" : "&") + Encode(k) + "=" + Encode(v);
    wire += (wire.empty() ? "" : "&") + Encode(k) + "=" + Encode(v, "/");
  }
  const std::string url = origin_ + path + (wire.empty() ? "" : "?" + wire);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, options_.timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, std::min<long>(options_.timeout_ms, 5000));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, KeepEtag);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.etag);
  if (method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else if (method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else {
    // The body from memory, sent as is (curl neither encodes nor chunks it).
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  }
  SigV4Request sr{method, path, canonical, {}, HexEncode(Sha256(body)),
                  AmzDate(std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch()).count())};
  sr.headers = {{"host", host_}, {"x-amz-content-sha256", sr.payload_sha256}, {"x-amz-date", sr.amz_date}};
  if (!options_.session_token.empty()) sr.headers.push_back({"x-amz-security-token", options_.session_token});
  struct curl_slist* headers = nullptr;
  for (const auto& [name, value] : sr.headers) {
    if (name != "host") headers = curl_slist_append(headers, (name + ": " + value).c_str());
  }
  headers = curl_slist_append(headers, ("Authorization: " + SigV4Authorization(sr, credentials_)).c_str());
  if (method != "GET" && method != "HEAD") {
    headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
    headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    return Status::Unavailable("S3 " + method + " " + path + ": " + curl_easy_strerror(rc));
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  return r;
}

StatusOr<S3Response> S3Client::Request(const std::string& method, const std::string& object, Query query,
                                       const std::string& body) {
  const std::string path = bucket_path_ + "/" + object;
  std::sort(query.begin(), query.end());
  auto h = Acquire();
  StatusOr<S3Response> r = Status::Unavailable("S3 not tried");
  for (int attempt = 0; attempt < std::max(1, options_.attempts); ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50 << (2 * (attempt - 1))));
    r = Once(*h, method, path, query, body);
    if (r.ok() && r->status < 500) break;
  }
  Release(std::move(h));
  return r;
}

std::string S3Client::Encode(const std::string& s, const std::string& keep) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : s) {
    if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
        ch == '_' || ch == '.' || ch == '~' || keep.find(static_cast<char>(ch)) != std::string::npos) {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += kHex[ch >> 4];
      out += kHex[ch & 15];
    }
  }
  return out;
}

std::string S3Client::XmlText(const std::string& xml, const std::string& tag, size_t* from) {
  const std::string open = "<" + tag + ">", close = "</" + tag + ">";
  size_t start = xml.find(open, from ? *from : 0);
  if (start == std::string::npos) {
    if (from) *from = std::string::npos;
    return {};
  }
  start += open.size();
  size_t end = xml.find(close, start);
  if (end == std::string::npos) {
    if (from) *from = std::string::npos;
    return {};
  }
  if (from) *from = end + close.size();
  std::string raw = xml.substr(start, end - start), out;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '&') {
      out += raw[i];
      continue;
    }
    size_t semi = raw.find(';', i);
    std::string ent = semi == std::string::npos ? "" : raw.substr(i + 1, semi - i - 1);
    if (ent == "amp") out += '&';
    else if (ent == "lt") out += '<';
    else if (ent == "gt") out += '>';
    else if (ent == "quot") out += '"';
    else if (ent == "apos") out += '\'';
    else if (ent.size() > 1 && ent[0] == '#') {
      long cp = ent[1] == 'x' ? std::strtol(ent.c_str() + 2, nullptr, 16) : std::strtol(ent.c_str() + 1, nullptr, 10);
      out += cp > 0 && cp < 128 ? static_cast<char>(cp) : '?';
    } else {
      out += '&';
      continue;
    }
    i = semi;
  }
  return out;
}

Status S3Client::ErrorOf(const std::string& what, const S3Response& r) {
  std::string code = XmlText(r.body, "Code"), message = XmlText(r.body, "Message");
  std::string text = what + ": S3 answered " + std::to_string(r.status) +
                     (code.empty() ? "" : " " + code) + (message.empty() ? "" : " (" + message + ")");
  if (r.status == 404) return Status::NotFound(text);
  if (r.status >= 500 || r.status == 429) return Status::Unavailable(text);
  return Status::Internal(text);
}

}  // namespace embedrec::blob
