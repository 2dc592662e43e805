// SplitMix64's finaliser: spreads a 64-bit value's bits so that nearby
// inputs give unrelated outputs (Steele, Lea, Flood 2014). Not a source of
// randomness (common/random.h is): a pure function, for hashing and for
// seeding reproducible streams.
#pragma once

#include <cstdint>

namespace embedrec {

inline uint64_t MixBits64(uint64_t h) {
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

// One step of the SplitMix64 generator from state `x` (x advanced by the
// golden-ratio increment, then mixed).
inline uint64_t SplitMix64(uint64_t x) { return MixBits64(x + 0x9e3779b97f4a7c15ull); }

}  // namespace embedrec
