// The grants a connection was given whose reply the kernel has not yet taken: a waiter's, or one
// made at once to a request. Until then a grant is not delivered, and a connection that closes
// (a waiter's) or is reset (any) gives it back (SPEC §1; Server::deliver_events() has the rules).
//
// This is on the hot path: every acquire that creates a holder adds a grant, and the write that
// follows usually takes its reply at once. So a grant's key and owner are copied into one arena
// per connection (no allocation per grant, which cost more than the rest of the request once
// a batch's 30-odd owners overflowed malloc's per-thread cache), and the list is emptied in O(1)
// when the kernel has taken everything. Its memory counts in the connection's client memory: a
// client that pipelines acquires of long keys without reading makes the server hold the keys
// (bounded by the unsent-output cap that stops it executing, and by max_client_memory_mb).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/engine.h"

namespace semlock {

// GrantView::reply_end of a grant made at once (or a release marker) while its command still runs
// (its reply is not all written yet): GrantList::seal() sets it once the command's reply is.
inline constexpr std::uint64_t kReplyNotWritten = UINT64_MAX;

// One grant, its strings viewed in (or owned apart from) a GrantList.
struct GrantView {
  std::string_view key;
  std::string_view owner;
  std::uint64_t fence = 0;
  Millis deadline = 0;          // the holder's deadline as the grant set it
  std::uint64_t reply_end = 0;  // delivered once Connection::bytes_sent reaches this
  bool added_mark = false;      // its NOTIFY mark goes with it (WaiterEvent::added_mark)
  bool at_once = false;  // made at once to a request, not to a waiter: a FIN does not undo it
  // Not a grant: the connection's own request released a hold of key by owner here
  // (GrantList::note_release).
  bool release = false;
};

class GrantList {
 public:
  static constexpr std::size_t kMaxUnsealed = 4096;  // grants kept per command (push())

  bool empty() const { return entries_.empty(); }
  std::size_t size() const { return entries_.size(); }

  // False (nothing kept) past kMaxUnsealed grants made by one command: a script that loops on
  // REENTRANT acquires cannot grow the list without bound. Those grants are kept for their TTL
  // if the reply is never delivered (liveness only).
  bool push(const GrantView& g) {
    if (g.reply_end == kReplyNotWritten && unsealed_ >= kMaxUnsealed) return false;
    Entry e;
    e.at = static_cast<std::uint32_t>(arena_.size());
    e.key_len = static_cast<std::uint32_t>(g.key.size());
    e.owner_len = static_cast<std::uint32_t>(g.owner.size());
    e.fence = g.fence;
    e.deadline = g.deadline;
    e.reply_end = g.reply_end;
    e.added_mark = g.added_mark;
    e.at_once = g.at_once;
    e.release = g.release;
    arena_.append(g.key);
    arena_.append(g.owner);
    live_bytes_ += g.key.size() + g.owner.size();
    if (g.reply_end == kReplyNotWritten) ++unsealed_;
    if (g.reply_end != kReplyNotWritten) sealed_max_ = std::max(sealed_max_, g.reply_end);
    entries_.push_back(e);
    return true;
  }
  GrantView back() const { return view(entries_.back()); }
  template <class F>
  void for_each(F f) const {
    for (const Entry& e : entries_) f(view(e));
  }
  // The grants to give back when the connection closes, oldest first: every listed grant except
  // those a later release marker of the same key and owner cancels (the newest before it).
  template <class F>
  void for_each_to_give_back(F f) const {
    std::vector<bool> cancelled(entries_.size(), false);
    bool any_release = false;
    for (const Entry& e : entries_) any_release = any_release || e.release;
    if (any_release) {
      std::unordered_map<std::string, std::vector<std::size_t>> open;  // key\0owner -> grants
      for (std::size_t i = 0; i < entries_.size(); ++i) {
        const GrantView g = view(entries_[i]);
        std::string id(g.key);
        id.push_back('\0');
        id.append(g.owner);
        auto& stack = open[id];
        if (!g.release) {
          stack.push_back(i);
        } else if (!stack.empty()) {
          cancelled[stack.back()] = true;
          stack.pop_back();
        }
      }
    }
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      if (!entries_[i].release && !cancelled[i]) f(view(entries_[i]));
    }
  }

  // The grants made at once by the command that just ran: their reply now ends at `end`.
  void seal(std::uint64_t end) {
    if (unsealed_ == 0) return;
    for (auto it = entries_.rbegin(); unsealed_ > 0 && it != entries_.rend(); ++it) {
      if (it->reply_end != kReplyNotWritten) continue;
      it->reply_end = end;
      --unsealed_;
    }
    sealed_max_ = std::max(sealed_max_, end);
  }
  // The connection's own request released one hold of `key` by `owner`. Its newest grant of that
  // key and owner listed before this point is then not given back: the release's reply comes
  // after the grant's, so it is not delivered either and its client cannot know it ran; giving
  // the grant back too would take a hold the owner was told it has (another connection's, with
  // REENTRANT). Recorded as a marker, resolved only if the connection closes with it listed
  // (for_each_to_give_back), so a release costs O(1) however long the list is; past the
  // per-command cap the newest grant is dropped at once instead.
  void note_release(std::string_view key, std::string_view owner) {
    if (entries_.empty()) return;  // no grant of this connection to cancel
    const GrantView marker{key, owner, 0, 0, kReplyNotWritten, false, true, true};
    if (!push(marker)) forget_newest(key, owner);
  }
  // Drops the newest grant of `key` by `owner` (false when there is none).
  bool forget_newest(std::string_view key, std::string_view owner) {
    for (std::size_t i = entries_.size(); i-- > 0;) {
      const GrantView g = view(entries_[i]);
      if (g.release || g.key != key || g.owner != owner) continue;
      live_bytes_ -= g.key.size() + g.owner.size();
      if (g.reply_end == kReplyNotWritten) --unsealed_;
      entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(i));
      if (entries_.empty()) clear();
      return true;
    }
    return false;
  }
  // The kernel has taken the output up to `bytes_sent`: those grants are delivered. When it took
  // everything (the usual case after a write) that is O(1).
  void drop_delivered(std::uint64_t bytes_sent) {
    if (unsealed_ == 0 && sealed_max_ <= bytes_sent) {
      clear();
      return;
    }
    erase_if([&](const GrantView& g) { return g.reply_end <= bytes_sent; });
  }
  template <class Pred>
  void erase_if(Pred pred) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      const Entry& e = entries_[i];
      if (pred(view(e))) {
        live_bytes_ -= e.key_len + e.owner_len;
        if (e.reply_end == kReplyNotWritten) --unsealed_;
      } else {
        entries_[kept++] = e;
      }
    }
    entries_.resize(kept);
    if (entries_.empty()) {
      clear();
      return;
    }
    if (arena_.size() > 2 * live_bytes_ + kCompactSlack) compact();
    if (entries_.capacity() > kKeptEntries && entries_.size() < entries_.capacity() / 4) {
      entries_.shrink_to_fit();
    }
  }
  void clear() {
    entries_.clear();
    arena_.clear();
    live_bytes_ = 0;
    unsealed_ = 0;
    sealed_max_ = 0;
    // A burst must not leave its memory behind on an idle connection.
    // (Swapped with empties: `= {}` would assign an empty initializer list and keep the capacity.)
    if (entries_.capacity() > kKeptEntries) std::vector<Entry>().swap(entries_);
    if (arena_.capacity() > kKeptArena) std::string().swap(arena_);
  }

  // A waiter's grant is among them (a FIN undoes it; one made at once it does not).
  bool has_waiter_grant() const {
    for (const Entry& e : entries_) {
      if (!e.at_once) return true;
    }
    return false;
  }
  std::size_t bytes() const { return entries_.capacity() * sizeof(Entry) + arena_.capacity(); }

 private:
  struct Entry {
    std::uint32_t at = 0;  // key at arena_[at], owner right after it
    std::uint32_t key_len = 0;
    std::uint32_t owner_len = 0;
    bool added_mark = false;
    bool at_once = false;
    bool release = false;
    std::uint64_t fence = 0;
    Millis deadline = 0;
    std::uint64_t reply_end = 0;
  };
  static constexpr std::size_t kKeptEntries = 256;
  static constexpr std::size_t kKeptArena = 16 * 1024;
  static constexpr std::size_t kCompactSlack = 4096;

  GrantView view(const Entry& e) const {
    const std::string_view a(arena_);
    return {a.substr(e.at, e.key_len),
            a.substr(e.at + e.key_len, e.owner_len),
            e.fence,
            e.deadline,
            e.reply_end,
            e.added_mark,
            e.at_once,
            e.release};
  }
  // Erased grants leave their bytes in the arena until the list empties; a list that never
  // empties (a slow reader that keeps pipelining) is compacted once they are most of it.
  void compact() {
    std::string packed;
    packed.reserve(live_bytes_);
    for (Entry& e : entries_) {
      const std::uint32_t at = static_cast<std::uint32_t>(packed.size());
      packed.append(arena_, e.at, e.key_len + e.owner_len);
      e.at = at;
    }
    arena_ = std::move(packed);
  }

  std::vector<Entry> entries_;
  std::string arena_;
  std::size_t live_bytes_ = 0;  // key and owner bytes of the grants still listed
  std::size_t unsealed_ = 0;    // entries whose reply_end is still kReplyNotWritten
  // At least every sealed reply_end listed (erasing does not lower it); 0 when empty.
  std::uint64_t sealed_max_ = 0;
};

}  // namespace semlock
