// Fast non-cryptographic hashing of short strings and "type:id" keys, for the
// engine's lookup tables. Not stable across versions: never persist a hash.
//
// Thread safety: pure functions and stateless functors; safe from any
// thread.
//
// Invariants:
//  1. hash::Ref(type, id) == hash::Joined("type:id") for every type without
//     ':', so tables keyed by joined strings can be probed with an EntityRef
//     without building the key.
//  2. RefHash and RefEq agree: an EntityRef and its joined key hash alike and
//     compare equal (heterogeneous lookup in RefMap).
//  3. Values depend only on the bytes hashed and kSeed, within one build.
#ifndef PORTCULLIS_ENGINE_HASH_H_
#define PORTCULLIS_ENGINE_HASH_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>

#include "engine/entity.h"

namespace portcullis::engine::hash {

inline constexpr uint64_t kSeed = 0x243f6a8885a308d3ull;

// Mixes one 64-bit word into h through a 64x64->128 multiply.
inline uint64_t Fold(uint64_t h, uint64_t w) {
  const unsigned __int128 m =
      static_cast<unsigned __int128>(h ^ w) * 0x9e3779b97f4a7c15ull;
  return static_cast<uint64_t>(m) ^ static_cast<uint64_t>(m >> 64);
}

// Hashes `s` word by word, continuing from `h`.
inline uint64_t Bytes(std::string_view s, uint64_t h = kSeed) {
  const char* p = s.data();
  size_t n = s.size();
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = Fold(h, w);
    p += 8;
    n -= 8;
  }
  // The last 0-7 bytes, without a variable-length copy: two overlapping
  // 4-byte loads, or the first, middle and last byte.
  uint64_t w = 0;
  if (n >= 4) {
    uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + n - 4, 4);
    w = (uint64_t{hi} << 32) | lo;
  } else if (n > 0) {
    w = (uint64_t{static_cast<uint8_t>(p[0])} << 16) |
        (uint64_t{static_cast<uint8_t>(p[n / 2])} << 8) |
        static_cast<uint8_t>(p[n - 1]);
  }
  return Fold(h, w ^ (uint64_t{s.size()} << 56));
}

// The hash of "type:id" from its halves.
// REQUIRES: `type` contains no ':' (else it may differ from Joined()).
inline uint64_t Ref(std::string_view type, std::string_view id) {
  return Bytes(id, Bytes(type));
}

// The hash of a joined "type:id" key: the same as Ref() of its halves.
inline uint64_t Joined(std::string_view joined) {
  const size_t colon = joined.find(':');
  if (colon == std::string_view::npos) return Ref(joined, {});
  return Ref(joined.substr(0, colon), joined.substr(colon + 1));
}

}  // namespace portcullis::engine::hash

namespace portcullis::engine {

// Hash and equality of "type:id" keys. An EntityRef hashes to the same value
// as its joined key and compares equal to it, so maps keyed by the joined
// string are probed with an EntityRef without building a key
// (heterogeneous lookup).
struct RefHash {
  using is_transparent = void;
  // Not noexcept, on purpose: libstdc++ then caches each node's hash, so a
  // probe does not rehash the stored keys it walks past.
  size_t operator()(std::string_view joined) const {
    return hash::Joined(joined);
  }
  size_t operator()(EntityRef ref) const noexcept {
    return hash::Ref(ref.type, ref.id);
  }
};
struct RefEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept {
    return a == b;
  }
  bool operator()(EntityRef r, std::string_view joined) const noexcept {
    const size_t t = r.type.size();
    return joined.size() == t + 1 + r.id.size() && joined[t] == ':' &&
           std::memcmp(joined.data(), r.type.data(), t) == 0 &&
           std::memcmp(joined.data() + t + 1, r.id.data(), r.id.size()) == 0;
  }
  bool operator()(std::string_view joined, EntityRef r) const noexcept {
    return (*this)(r, joined);
  }
};

// A map keyed by "type:id", probed with either a key or an EntityRef.
template <typename T>
using RefMap = std::unordered_map<std::string, T, RefHash, RefEq>;

}  // namespace portcullis::engine

#endif  // PORTCULLIS_ENGINE_HASH_H_
