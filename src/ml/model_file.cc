#include "ml/model_file.h"

#include <sodium.h>

#include <cstring>

#include "common/binary_io.h"
#include "common/file_util.h"

namespace embedrec::ml {
namespace {

constexpr char kMagic[8] = {'E', 'M', 'B', 'E', 'D', 'R', 'E', 'C'};
constexpr size_t kChecksumBytes = 32;
constexpr uint32_t kFlagIds = 1;
constexpr uint32_t kFlagEgo = 2;
constexpr uint32_t kFlagHistory = 4;

Status Corrupt(const std::string& what) {
  return Status::FailedPrecondition("corrupt model file: " + what);
}

}  // namespace

std::string EncodeModel(const ModelArtifact& m) {
  std::string out;
  out.reserve(64 + m.metadata_json.size() + (m.user_emb.size() + m.item_emb.size()) * 4);
  out.append(kMagic, sizeof(kMagic));
  PutBinary<uint32_t>(&out, kModelFormatVersion);
  const bool ids = !m.user_ids.empty() || !m.item_ids.empty();
  const bool ego = !m.user_ego.empty() || !m.item_ego.empty();
  const bool history = !m.history_offsets.empty();
  PutBinary<uint32_t>(&out, (ids ? kFlagIds : 0) | (ego ? kFlagEgo : 0) | (history ? kFlagHistory : 0));
  PutBinary<uint32_t>(&out, m.dim);
  PutBinary<uint64_t>(&out, m.n_users);
  PutBinary<uint64_t>(&out, m.n_items);
  PutBinaryString(&out, m.model_type);
  PutBinaryString(&out, m.params_json);
  PutBinaryString(&out, m.metadata_json);
  if (ids) {
    for (const auto& s : m.user_ids) PutBinaryString(&out, s);
    for (const auto& s : m.item_ids) PutBinaryString(&out, s);
  }
  out.append(reinterpret_cast<const char*>(m.user_emb.data()), m.user_emb.size() * sizeof(float));
  out.append(reinterpret_cast<const char*>(m.item_emb.data()), m.item_emb.size() * sizeof(float));
  if (ego) {
    out.append(reinterpret_cast<const char*>(m.user_ego.data()), m.user_ego.size() * sizeof(float));
    out.append(reinterpret_cast<const char*>(m.item_ego.data()), m.item_ego.size() * sizeof(float));
  }
  if (history) {
    PutBinary<uint64_t>(&out, m.history_items.size());
    out.append(reinterpret_cast<const char*>(m.history_offsets.data()),
               m.history_offsets.size() * sizeof(int64_t));
    out.append(reinterpret_cast<const char*>(m.history_items.data()),
               m.history_items.size() * sizeof(int32_t));
  }
  unsigned char sum[kChecksumBytes];
  crypto_generichash(sum, sizeof(sum), reinterpret_cast<const unsigned char*>(out.data()),
                     out.size(), nullptr, 0);
  out.append(reinterpret_cast<const char*>(sum), sizeof(sum));
  return out;
}

StatusOr<ModelArtifact> DecodeModel(std::string_view bytes) {
  if (bytes.size() < sizeof(kMagic) + kChecksumBytes ||
      std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return Corrupt("not an embedrec model file (bad magic)");
  }
  std::string_view body = bytes.substr(0, bytes.size() - kChecksumBytes);
  unsigned char sum[kChecksumBytes];
  crypto_generichash(sum, sizeof(sum), reinterpret_cast<const unsigned char*>(body.data()),
                     body.size(), nullptr, 0);
  if (sodium_memcmp(sum, bytes.data() + body.size(), kChecksumBytes) != 0) {
    return Corrupt("checksum mismatch (truncated or damaged)");
  }
  BinaryReader r(body.substr(sizeof(kMagic)));
  uint32_t version = 0, flags = 0;
  ModelArtifact m;
  if (!r.Get(&version)) return Corrupt("no version");
  if (version != kModelFormatVersion) {
    return Status::FailedPrecondition("model file format version " + std::to_string(version) +
                                      " is not supported (this build reads " +
                                      std::to_string(kModelFormatVersion) + ")");
  }
  if (!r.Get(&flags) || !r.Get(&m.dim) || !r.Get(&m.n_users) || !r.Get(&m.n_items)) {
    return Corrupt("short header");
  }
  if (m.dim == 0 || m.dim > 4096) return Corrupt("bad dimension");
  if (flags & ~(kFlagIds | kFlagEgo | kFlagHistory)) return Corrupt("unknown flags");
  if (!r.GetString(&m.model_type, 64) || !r.GetString(&m.params_json, 1 << 20) ||
      !r.GetString(&m.metadata_json, 1 << 26)) {
    return Corrupt("bad model type, params or metadata");
  }
  // Sizes must fit in what is left before anything is allocated for them.
  const uint64_t floats_per_row = m.dim;
  if (m.n_users > r.remaining() / (floats_per_row * 4) ||
      m.n_items > r.remaining() / (floats_per_row * 4)) {
    return Corrupt("sizes larger than the file");
  }
  if (flags & kFlagIds) {
    m.user_ids.resize(m.n_users);
    m.item_ids.resize(m.n_items);
    for (auto& s : m.user_ids) {
      if (!r.GetString(&s, 4096)) return Corrupt("bad user id");
    }
    for (auto& s : m.item_ids) {
      if (!r.GetString(&s, 4096)) return Corrupt("bad item id");
    }
  }
  if (!r.GetArray(&m.user_emb, m.n_users * floats_per_row) ||
      !r.GetArray(&m.item_emb, m.n_items * floats_per_row)) {
    return Corrupt("embeddings cut short");
  }
  if ((flags & kFlagEgo) && (!r.GetArray(&m.user_ego, m.n_users * floats_per_row) ||
                             !r.GetArray(&m.item_ego, m.n_items * floats_per_row))) {
    return Corrupt("ego embeddings cut short");
  }
  if (flags & kFlagHistory) {
    uint64_t pairs = 0;
    if (!r.Get(&pairs) || pairs > r.remaining() / 4) return Corrupt("bad history size");
    if (!r.GetArray(&m.history_offsets, m.n_users + 1) || !r.GetArray(&m.history_items, pairs)) {
      return Corrupt("history cut short");
    }
    if (m.history_offsets.front() != 0 || m.history_offsets.back() != static_cast<int64_t>(pairs)) {
      return Corrupt("history offsets inconsistent");
    }
    for (size_t u = 1; u < m.history_offsets.size(); ++u) {
      if (m.history_offsets[u] < m.history_offsets[u - 1]) return Corrupt("history offsets decrease");
    }
    for (int32_t i : m.history_items) {
      if (i < 0 || static_cast<uint64_t>(i) >= m.n_items) return Corrupt("history item out of range");
    }
  }
  if (r.remaining() != 0) return Corrupt("trailing bytes");
  return m;
}

Status SaveModelFile(const std::string& path, const ModelArtifact& model) {
  return WriteFileAtomically(path, EncodeModel(model), 0644);
}

StatusOr<ModelArtifact> LoadModelFile(const std::string& path) {
  auto data = ReadWholeFile(path);
  if (data.status().code() == StatusCode::kNotFound) return Status::NotFound("cannot open model file " + path);
  if (!data.ok()) return data.status();
  return DecodeModel(*data);
}

}  // namespace embedrec::ml
