// The approximate first pass of both nearest-item scans (ann/exact_scan.h,
// ann/ivf_index.h): rows rounded to int8 (one byte a dimension, each row
// scaled by its largest coordinate), in chunks of kChunk rows like
// ann/shortlist.h, dimensions in groups of four (per chunk: d4/4 groups ×
// kChunk rows × 4 bytes, stored +128 as unsigned bytes). A query is rounded
// the same way; a chunk's scores are then integer dot products — one VNNI
// instruction per 16 rows and 4 dimensions where the CPU has AVX-512 VNNI,
// plain integer code elsewhere, the same sums on both — scaled back to
// floats. The candidates it ranks are re-scored exactly
// (ann/shortlist.h's TopKOfCandidates).
#pragma once

#include <cstdint>
#include <vector>

#include "ann/shortlist.h"

namespace embedrec::ann {

// d rounded up to a multiple of 4 (the padding dimensions are zero).
int Int8Dims(int d);
// Bytes of one chunk of d-dimensional rows.
inline int64_t Int8ChunkBytes(int d) { return static_cast<int64_t>(Int8Dims(d)) * kChunk; }

// Writes row `r` of `d` floats into slot `slot` of `chunks` and its scale
// into scales[slot]. Unwritten slots (zero bytes, scale 0) score 0.
void PutInt8Row(const float* r, int d, int64_t slot, uint8_t* chunks, float* scales);

struct Int8Query {
  std::vector<int32_t> groups;  // four signed bytes per group of dimensions
  int32_t sum = 0;              // Σ of the query's bytes (undoes the rows' +128)
  float scale = 0;
};
void QuantizeQuery(const float* q, int d, Int8Query* out);

// out[0..kChunk) ≈ q · each row of the chunk at `chunk` (scales: its kChunk rows').
void Int8ChunkScores(const uint8_t* chunk, const float* scales, const Int8Query& q, float* out);

// Rows in that layout with their scales, for the scans.
class Int8Rows {
 public:
  Int8Rows() = default;
  // Room for `slots` rows (whole chunks), each scoring 0 until written.
  Int8Rows(int d, int64_t slots);
  void Put(const float* row, int64_t slot) { PutInt8Row(row, d_, slot, bytes_.data(), scales_.data()); }
  float scale(int64_t slot) const { return scales_[static_cast<size_t>(slot)]; }
  // out[0..kChunk) ≈ q · each row of chunk `c`.
  void ChunkScores(int64_t c, const Int8Query& q, float* out) const {
    Int8ChunkScores(bytes_.data() + c * chunk_bytes_, scales_.data() + c * kChunk, q, out);
  }

 private:
  int d_ = 0;
  int64_t chunk_bytes_ = 0;
  std::vector<uint8_t> bytes_;
  std::vector<float> scales_;
};

namespace internal {  // for tests: the CPU's kernel and the portable one
bool Int8HasVnni();
void Int8ChunkScoresPortable(const uint8_t* chunk, const float* scales, const Int8Query& q, float* out);
}  // namespace internal

}  // namespace embedrec::ann
