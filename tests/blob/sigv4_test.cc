// SigV4 against known signatures: the example of AWS's S3 documentation
// ("GET Object"), and a listing whose query needs encoding, as botocore
// signs it.
#include "blob/s3/sigv4.h"

#include <gtest/gtest.h>

namespace embedrec::blob {
namespace {

const SigV4Credentials kExample{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1"};
const char* kEmptySha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST(SigV4Test, SignsAwsDocumentedGetObjectExample) {
  SigV4Request r{"GET", "/test.txt", "", {}, kEmptySha, "20130524T000000Z"};
  r.headers = {{"host", "examplebucket.s3.amazonaws.com"}, {"range", "bytes=0-9"},
               {"x-amz-content-sha256", kEmptySha}, {"x-amz-date", "20130524T000000Z"}};
  EXPECT_EQ(SigV4Authorization(r, kExample),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4Test, SignsAnEncodedQueryAsGivenWhateverTheHeaderOrder) {
  SigV4Request r{"GET", "/", "continuation-token=x%2By%3D&list-type=2&prefix=a%2Fb%2F", {}, kEmptySha,
                 "20130524T000000Z"};
  r.headers = {{"x-amz-date", "20130524T000000Z"}, {"x-amz-content-sha256", kEmptySha},
               {"host", "examplebucket.s3.amazonaws.com"}};
  EXPECT_NE(SigV4Authorization(r, kExample).find(
                "Signature=d531c49271d72ade8641b1d40e89a0d4e2ace5569cd1f40c61d1a79ce92993ff"),
            std::string::npos);
}

TEST(SigV4Test, FormatsTheDate) {
  EXPECT_EQ(AmzDate(1369353600), "20130524T000000Z");
}

}  // namespace
}  // namespace embedrec::blob
