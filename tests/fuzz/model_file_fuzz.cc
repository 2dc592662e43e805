// The model file loader (ml/model_file.h) and the models' Restore
// (ml/model.h LoadModel) on any file. The input is the file without its
// checksum, which is appended correctly, so the parser behind it is reached;
// one input in eight is taken whole, checksum included. Properties: a file
// that decodes encodes to one that decodes to the same; a model that loads has
// embeddings of the sizes the file declared and folds a user in without
// reading outside them.
#include <sodium.h>

#include <string>

#include "fuzz_input.h"
#include "ml/model.h"
#include "ml/model_file.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) { return sodium_init() < 0 ? 1 : 0; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  embedrec::fuzz::Input in(data, size);
  const uint8_t mode = in.Byte();
  std::string file(in.rest());
  if (mode % 8 != 0) {
    unsigned char sum[32];
    crypto_generichash(sum, sizeof sum, reinterpret_cast<const unsigned char*>(file.data()), file.size(),
                       nullptr, 0);
    file.append(reinterpret_cast<const char*>(sum), sizeof sum);
  }
  auto artifact = embedrec::ml::DecodeModel(file);
  if (!artifact.ok()) return 0;
  // What decodes encodes to a file that decodes to the same (a flag for an
  // empty section may be dropped on the way: compare after one round).
  const std::string encoded = embedrec::ml::EncodeModel(*artifact);
  auto again = embedrec::ml::DecodeModel(encoded);
  embedrec::fuzz::Check(again.ok() && embedrec::ml::EncodeModel(*again) == encoded);
  auto model = embedrec::ml::LoadModel(*artifact);
  if (!model.ok()) return 0;
  const auto& m = **model;
  embedrec::fuzz::Check(m.item_embeddings().size() == artifact->n_items * static_cast<uint64_t>(m.dim()) ||
                        m.item_embeddings().empty());
  if (artifact->n_items > 0) {
    embedrec::ml::Model::ItemWeights items{{0, 1.0f},
                                           {static_cast<int32_t>(artifact->n_items - 1), 2.0f}};
    (void)m.FoldIn(items);
  }
  return 0;
}
