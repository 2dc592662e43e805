// The model file: a trained model's embeddings and what produced them, in a
// versioned binary format that is checked whole before anything is used.
//
// Layout (little-endian):
//   magic "EMBEDREC" (8 bytes) | format version u32 | flags u32 (bit 0: ids present)
//   dim u32 | n_users u64 | n_items u64
//   model type, params and metadata: each u32 length + text; params is the
//     model's own JSON (what Model::Restore needs), metadata is free JSON
//     (training summary, metrics)
//   ids (when flagged): n_users then n_items strings, each u32 length + bytes
//   user embeddings: n_users × dim float32 | item embeddings: n_items × dim float32
//   (flag bit 1) user then item ego embeddings, the same shapes
//   (flag bit 2) history: n_pairs u64, n_users + 1 offsets i64, n_pairs item indices i32
//   checksum: BLAKE2b-256 (libsodium) of every byte before it
// A file that is truncated, has trailing bytes, a wrong checksum, an unknown
// version or inconsistent sizes is refused with kFailedPrecondition naming the fault
// and nothing of it is returned.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace embedrec::ml {

inline constexpr uint32_t kModelFormatVersion = 1;

struct ModelArtifact {
  std::string model_type;     // "lightgcn", ...
  uint32_t dim = 0;
  uint64_t n_users = 0, n_items = 0;
  std::string params_json = "{}";    // the model's own (Model::Export/Restore)
  std::string metadata_json = "{}";  // free-form: training summary, metrics
  std::vector<std::string> user_ids, item_ids;  // both empty: ids are the indices
  std::vector<float> user_emb, item_emb;        // n × dim, row-major
  // Optional, same shapes: the ego embeddings E(0) a warm start continues
  // from (LightGCN, whose final embeddings are propagated). Both empty when
  // the final embeddings are the ego ones (bpr_mf, als) or none were kept.
  std::vector<float> user_ego, item_ego;
  // Optional: the training pairs, user by user (CSR: the items of user u are
  // history_items[history_offsets[u] .. history_offsets[u+1]), sorted). Lets
  // serving explain a recommendation by what similar users chose.
  std::vector<int64_t> history_offsets;
  std::vector<int32_t> history_items;
};

std::string EncodeModel(const ModelArtifact& model);
StatusOr<ModelArtifact> DecodeModel(std::string_view bytes);

// Writes atomically (temporary file, fsync, rename).
Status SaveModelFile(const std::string& path, const ModelArtifact& model);
StatusOr<ModelArtifact> LoadModelFile(const std::string& path);

}  // namespace embedrec::ml
