// OrderedIds: a set of node ids kept sorted by their nodes' keys ("type:id",
// byte order), in chunks, so that inserting into or erasing from a set of
// millions moves at most one chunk, and a range in key order is read chunk
// after chunk. The keys are not stored here: every operation that compares
// takes `key_of(id)`, which must give each id's key, unchanged while the id
// is in the set.
//
// Thread safety: none of its own (DecisionIndex guards it with its lock).
//
// Invariants: every chunk is non-empty and holds at most kChunk ids; the
// concatenation of the chunks is strictly ascending by key; size() is the
// sum of the chunk sizes.
#ifndef PORTCULLIS_INDEX_ORDERED_IDS_H_
#define PORTCULLIS_INDEX_ORDERED_IDS_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace portcullis::index {

class OrderedIds {
 public:
  static constexpr size_t kChunk = 512;

  // A place in the set: chunk and offset; at the end when chunk ==
  // chunk_count().
  struct Position {
    size_t chunk = 0;
    size_t offset = 0;
  };

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t chunk_count() const { return chunks_.size(); }
  uint32_t At(Position p) const { return chunks_[p.chunk][p.offset]; }
  // The position after `p` (p not at the end).
  Position Advance(Position p) const {
    if (++p.offset == chunks_[p.chunk].size()) {
      ++p.chunk;
      p.offset = 0;
    }
    return p;
  }
  // Heap bytes held (capacity).
  size_t bytes() const {
    size_t n = chunks_.capacity() * sizeof(Chunk);
    for (const Chunk& c : chunks_) n += c.capacity() * sizeof(uint32_t);
    return n;
  }

  // The first position whose key is greater than `key`.
  template <typename KeyOf>
  Position UpperBound(std::string_view key, KeyOf&& key_of) const {
    // The first chunk whose last key is greater than `key`.
    auto chunk = std::partition_point(
        chunks_.begin(), chunks_.end(),
        [&](const Chunk& c) { return key_of(c.back()) <= key; });
    if (chunk == chunks_.end()) return End();
    auto it = std::partition_point(
        chunk->begin(), chunk->end(),
        [&](uint32_t id) { return key_of(id) <= key; });
    return {static_cast<size_t>(chunk - chunks_.begin()),
            static_cast<size_t>(it - chunk->begin())};
  }
  Position Begin() const { return {}; }
  Position End() const { return {chunks_.size(), 0}; }

  // Adds `id` (not in the set). Appending in ascending key order, as a
  // build from a sorted scan does, compares one key per id.
  template <typename KeyOf>
  void Insert(uint32_t id, KeyOf&& key_of) {
    const std::string_view key = key_of(id);
    ++size_;
    if (chunks_.empty()) {
      chunks_.emplace_back().push_back(id);
      return;
    }
    if (key_of(chunks_.back().back()) < key) {  // after everything
      if (chunks_.back().size() < kChunk) {
        chunks_.back().push_back(id);
      } else {
        chunks_.emplace_back().push_back(id);
      }
      return;
    }
    // The first chunk whose last key is greater than `key` (one exists).
    auto chunk = std::partition_point(
        chunks_.begin(), chunks_.end(),
        [&](const Chunk& c) { return key_of(c.back()) < key; });
    auto it = std::partition_point(chunk->begin(), chunk->end(),
                                   [&](uint32_t x) { return key_of(x) < key; });
    chunk->insert(it, id);
    if (chunk->size() > kChunk) {
      // Split in two halves.
      Chunk upper(chunk->begin() + kChunk / 2, chunk->end());
      chunk->resize(kChunk / 2);
      chunks_.insert(chunk + 1, std::move(upper));
    }
  }

  // Removes `id`; false if it is not in the set.
  template <typename KeyOf>
  bool Erase(uint32_t id, KeyOf&& key_of) {
    const std::string_view key = key_of(id);
    auto chunk = std::partition_point(
        chunks_.begin(), chunks_.end(),
        [&](const Chunk& c) { return key_of(c.back()) < key; });
    if (chunk == chunks_.end()) return false;
    auto it = std::partition_point(chunk->begin(), chunk->end(),
                                   [&](uint32_t x) { return key_of(x) < key; });
    if (it == chunk->end() || *it != id) return false;
    chunk->erase(it);
    --size_;
    if (chunk->empty()) {
      chunks_.erase(chunk);
    } else if (chunk + 1 != chunks_.end() &&
               chunk->size() + (chunk + 1)->size() <= kChunk / 2) {
      // Merge small neighbours, so that a set emptied at random keeps
      // chunks of a useful size.
      chunk->insert(chunk->end(), (chunk + 1)->begin(), (chunk + 1)->end());
      chunks_.erase(chunk + 1);
    }
    if (chunks_.empty()) std::vector<Chunk>().swap(chunks_);  // release
    return true;
  }

  // Calls fn(id) for every id in key order.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const Chunk& c : chunks_) {
      for (uint32_t id : c) fn(id);
    }
  }

 private:
  using Chunk = std::vector<uint32_t>;
  std::vector<Chunk> chunks_;
  size_t size_ = 0;
};

}  // namespace portcullis::index

#endif  // PORTCULLIS_INDEX_ORDERED_IDS_H_
