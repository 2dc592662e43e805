// AWS Signature Version 4 for S3 requests (the Authorization header).
//
// Written here rather than taken from libcurl's CURLOPT_AWS_SIGV4 because
// Debian's libcurl 7.88 canonicalises the query string itself and signs a
// percent-encoded value encoded a second time (a prefix "a%2Fb" is signed as
// "a%252Fb" and S3 refuses it), and it signs a header given blank to remove
// it. Here the caller gives the query already canonical and the exact
// headers sent, so what is signed is what goes on the wire.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace embedrec::blob {

struct SigV4Request {
  std::string method;        // "GET", "PUT", …
  std::string path;          // URI path as sent, already encoded ("/bucket/a/b.bin")
  std::string query;         // canonical: sorted "k=v" pairs, values RFC 3986-encoded
  // Every header to sign (host, x-amz-date and x-amz-content-sha256 at
  // least): lowercase names, values as sent.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload_sha256;  // lowercase hex, as in x-amz-content-sha256
  std::string amz_date;        // "20130524T000000Z", as in x-amz-date
};

struct SigV4Credentials {
  std::string access_key;
  std::string secret_key;
  std::string region;
  std::string service = "s3";
};

// The value of the Authorization header for `r`.
std::string SigV4Authorization(const SigV4Request& r, const SigV4Credentials& c);

// "YYYYMMDDTHHMMSSZ" of `unix_seconds` (UTC).
std::string AmzDate(long long unix_seconds);

}  // namespace embedrec::blob
