#include "ml/model_file.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <cstring>
#include <filesystem>
#include <fstream>

namespace embedrec::ml {
namespace {

ModelArtifact Sample(bool ids) {
  ModelArtifact m;
  m.model_type = "lightgcn";
  m.dim = 3;
  m.n_users = 2;
  m.n_items = 4;
  m.params_json = R"({"alpha":10})";
  m.metadata_json = R"({"epochs":10,"recall@20":0.19})";
  if (ids) {
    m.user_ids = {"USER_1", "ユーザー"};
    m.item_ids = {"P1", "P2", "", "P4"};
  }
  for (int i = 0; i < 6; ++i) m.user_emb.push_back(0.5f * i - 1);
  for (int i = 0; i < 12; ++i) m.item_emb.push_back(-0.25f * i);
  return m;
}

void ExpectSame(const ModelArtifact& a, const ModelArtifact& b) {
  EXPECT_EQ(a.model_type, b.model_type);
  EXPECT_EQ(a.dim, b.dim);
  EXPECT_EQ(a.n_users, b.n_users);
  EXPECT_EQ(a.n_items, b.n_items);
  EXPECT_EQ(a.params_json, b.params_json);
  EXPECT_EQ(a.metadata_json, b.metadata_json);
  EXPECT_EQ(a.user_ids, b.user_ids);
  EXPECT_EQ(a.item_ids, b.item_ids);
  EXPECT_EQ(a.user_emb, b.user_emb);
  EXPECT_EQ(a.item_emb, b.item_emb);
  EXPECT_EQ(a.user_ego, b.user_ego);
  EXPECT_EQ(a.item_ego, b.item_ego);
  EXPECT_EQ(a.history_offsets, b.history_offsets);
  EXPECT_EQ(a.history_items, b.history_items);
}

TEST(ModelFileTest, RoundTripsWithAndWithoutIds) {
  for (bool ids : {false, true}) {
    ModelArtifact m = Sample(ids);
    auto back = DecodeModel(EncodeModel(m));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    ExpectSame(m, *back);
  }
}

TEST(ModelFileTest, RoundTripsEgoEmbeddingsAndRefusesThemCutShort) {
  ModelArtifact m = Sample(true);
  m.user_ego.assign(m.user_emb.size(), 0.125f);
  m.item_ego.assign(m.item_emb.size(), -2.0f);
  std::string bytes = EncodeModel(m);
  auto back = DecodeModel(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSame(m, *back);
  // One ego float fewer (with a checksum that matches) is refused.
  m.item_ego.pop_back();
  auto cut = DecodeModel(EncodeModel(m));
  EXPECT_EQ(cut.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(cut.status().message().find("ego"), std::string::npos) << cut.status().message();
}

TEST(ModelFileTest, RoundTripsTheTrainingHistoryAndChecksIt) {
  ModelArtifact m = Sample(true);
  m.history_offsets = {0, 2, 3};
  m.history_items = {0, 3, 1};
  auto back = DecodeModel(EncodeModel(m));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSame(m, *back);
  m.history_items[1] = 4;  // out of the 4 items
  EXPECT_EQ(DecodeModel(EncodeModel(m)).status().code(), StatusCode::kFailedPrecondition);
  m.history_items[1] = 3;
  m.history_offsets = {0, 3, 2};
  EXPECT_EQ(DecodeModel(EncodeModel(m)).status().code(), StatusCode::kFailedPrecondition);
}

TEST(ModelFileTest, SavesAtomicallyAndLoads) {
  auto dir = std::filesystem::temp_directory_path() / "embedrec-model-file-test";
  std::filesystem::create_directories(dir);
  std::string path = (dir / "m.embr").string();
  ASSERT_TRUE(SaveModelFile(path, Sample(true)).ok());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  auto back = LoadModelFile(path);
  ASSERT_TRUE(back.ok());
  ExpectSame(Sample(true), *back);
  EXPECT_EQ(LoadModelFile((dir / "none").string()).status().code(), StatusCode::kNotFound);
}

TEST(ModelFileTest, EveryTruncationIsRefused) {
  std::string bytes = EncodeModel(Sample(true));
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto r = DecodeModel(std::string_view(bytes).substr(0, n));
    ASSERT_FALSE(r.ok()) << "accepted a file cut at " << n;
    EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  }
}

TEST(ModelFileTest, AnyFlippedByteOrTrailingByteIsRefused) {
  std::string bytes = EncodeModel(Sample(false));
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] ^= 0x01;
    ASSERT_FALSE(DecodeModel(bad).ok()) << "accepted a flip at " << i;
  }
  EXPECT_FALSE(DecodeModel(bytes + "x").ok());
}

TEST(ModelFileTest, NamesAnUnsupportedVersion) {
  // A well-formed file of a future version: the checksum is right, the version is not.
  ModelArtifact m = Sample(false);
  std::string bytes = EncodeModel(m);
  std::string body = bytes.substr(0, bytes.size() - 32);
  uint32_t v = 99;
  std::memcpy(body.data() + 8, &v, 4);
  // Re-encode the checksum the way the format does.
  std::string resigned = body;
  unsigned char sum[32];
  crypto_generichash(sum, 32, reinterpret_cast<const unsigned char*>(body.data()), body.size(),
                     nullptr, 0);
  resigned.append(reinterpret_cast<const char*>(sum), 32);
  auto r = DecodeModel(resigned);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("version 99"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace embedrec::ml
