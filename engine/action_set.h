// ActionSet, RoleSet and TypeSet: fixed-size bit sets over the ids a
// compiled policy assigns to actions, roles and types. Plain values; no
// allocation.
//
// Thread safety: plain values with no shared state; a const set may be read
// from any number of threads. Mutating one needs external synchronization.
//
// Invariants:
//  1. Ids are dense and below kMaxActions, kMaxRoles and kMaxTypes
//     respectively; the policy compiler rejects a policy that needs more.
//  2. kNoType, kNoAction and kNoRole are never members of a set.
//  3. ForEach visits members in increasing id order.
#ifndef PORTCULLIS_ENGINE_ACTION_SET_H_
#define PORTCULLIS_ENGINE_ACTION_SET_H_

#include <bit>
#include <cstddef>
#include <cstdint>

namespace portcullis::engine {

using TypeId = uint16_t;
using ActionId = uint16_t;
using RoleId = uint16_t;
inline constexpr TypeId kNoType = 0xffff;
inline constexpr ActionId kNoAction = 0xffff;
inline constexpr RoleId kNoRole = 0xffff;

// Limits of one compiled policy; the compiler reports a policy that exceeds
// them as an error.
inline constexpr size_t kMaxTypes = 64;
inline constexpr size_t kMaxActions = 128;
inline constexpr size_t kMaxRoles = 64;

// A set of action ids, [0, kMaxActions).
class ActionSet {
 public:
  constexpr ActionSet() = default;
  static ActionSet All() {
    ActionSet s;
    s.bits_[0] = s.bits_[1] = ~uint64_t{0};
    return s;
  }
  // REQUIRES: a < kMaxActions (for Add, Remove and Contains).
  void Add(ActionId a) { bits_[a >> 6] |= uint64_t{1} << (a & 63); }
  void Remove(ActionId a) { bits_[a >> 6] &= ~(uint64_t{1} << (a & 63)); }
  bool Contains(ActionId a) const {
    return (bits_[a >> 6] >> (a & 63)) & 1;
  }
  bool empty() const { return (bits_[0] | bits_[1]) == 0; }
  size_t size() const {
    return std::popcount(bits_[0]) + std::popcount(bits_[1]);
  }
  ActionSet& operator|=(const ActionSet& o) {
    bits_[0] |= o.bits_[0];
    bits_[1] |= o.bits_[1];
    return *this;
  }
  ActionSet& operator&=(const ActionSet& o) {
    bits_[0] &= o.bits_[0];
    bits_[1] &= o.bits_[1];
    return *this;
  }
  ActionSet operator|(const ActionSet& o) const {
    ActionSet r = *this;
    return r |= o;
  }
  ActionSet operator&(const ActionSet& o) const {
    ActionSet r = *this;
    return r &= o;
  }
  ActionSet operator~() const {
    ActionSet r;
    r.bits_[0] = ~bits_[0];
    r.bits_[1] = ~bits_[1];
    return r;
  }
  friend bool operator==(const ActionSet&, const ActionSet&) = default;

  // Calls fn(ActionId) for each member in increasing order.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (int w = 0; w < 2; ++w) {
      uint64_t b = bits_[w];
      while (b) {
        const int bit = std::countr_zero(b);
        fn(static_cast<ActionId>(w * 64 + bit));
        b &= b - 1;
      }
    }
  }

 private:
  uint64_t bits_[2] = {0, 0};
};

// A set of role ids, [0, kMaxRoles).
class RoleSet {
 public:
  constexpr RoleSet() = default;
  // REQUIRES: r < kMaxRoles (for Add and Contains).
  void Add(RoleId r) { bits_ |= uint64_t{1} << r; }
  bool Contains(RoleId r) const { return (bits_ >> r) & 1; }
  bool empty() const { return bits_ == 0; }
  uint64_t bits() const { return bits_; }
  RoleSet& operator|=(const RoleSet& o) {
    bits_ |= o.bits_;
    return *this;
  }
  friend bool operator==(const RoleSet&, const RoleSet&) = default;

  template <typename Fn>
  void ForEach(Fn&& fn) const {
    uint64_t b = bits_;
    while (b) {
      fn(static_cast<RoleId>(std::countr_zero(b)));
      b &= b - 1;
    }
  }

 private:
  uint64_t bits_ = 0;
};

// A set of type ids, [0, kMaxTypes).
class TypeSet {
 public:
  constexpr TypeSet() = default;
  // REQUIRES: t < kMaxTypes. Contains() accepts any id (kNoType is absent).
  void Add(TypeId t) { bits_ |= uint64_t{1} << t; }
  bool Contains(TypeId t) const { return t < 64 && ((bits_ >> t) & 1); }
  bool empty() const { return bits_ == 0; }
  friend bool operator==(const TypeSet&, const TypeSet&) = default;

 private:
  uint64_t bits_ = 0;
};

}  // namespace portcullis::engine

#endif  // PORTCULLIS_ENGINE_ACTION_SET_H_
