#include "blob/s3/sigv4.h"

#include <algorithm>
#include <ctime>

#include "common/random.h"

namespace embedrec::blob {

std::string SigV4Authorization(const SigV4Request& r, const SigV4Credentials& c) {
  auto headers = r.headers;
  std::sort(headers.begin(), headers.end());
  std::string canonical_headers, signed_headers;
  for (const auto& [name, value] : headers) {
    // Values trimmed; S3's own values never hold runs of spaces.
    size_t b = value.find_first_not_of(" \t"), e = value.find_last_not_of(" \t");
    canonical_headers += name + ":" + (b == std::string::npos ? "" : value.substr(b, e - b + 1)) + "\n";
    if (!signed_headers.empty()) signed_headers += ';';
    signed_headers += name;
  }
  const std::string canonical_request = r.method + "\n" + r.path + "\n" + r.query + "\n" + canonical_headers +
                                        "\n" + signed_headers + "\n" + r.payload_sha256;
  const std::string day = r.amz_date.substr(0, 8);
  const std::string scope = day + "/" + c.region + "/" + c.service + "/aws4_request";
  const std::string to_sign =
      "AWS4-HMAC-SHA256\n" + r.amz_date + "\n" + scope + "\n" + HexEncode(Sha256(canonical_request));
  std::string key = HmacSha256("AWS4" + c.secret_key, day);
  key = HmacSha256(key, c.region);
  key = HmacSha256(key, c.service);
  key = HmacSha256(key, "aws4_request");
  return "AWS4-HMAC-SHA256 Credential=" + c.access_key + "/" + scope + ", SignedHeaders=" + signed_headers +
         ", Signature=" + HexEncode(HmacSha256(key, to_sign));
}

std::string AmzDate(long long unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

}  // namespace embedrec::blob
