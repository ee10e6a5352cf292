// The durable high-water mark of the fencing counter (SPEC §1: no fence is ever handed out
// twice, whatever the fsync mode). Fences are reserved in blocks ahead of use; the reservation
// record is written and fsynced at once, before the counter can reach the mark.
#pragma once

#include <cstdint>

namespace semlock::persist {

class FenceReservation {
 public:
  // block: how far ahead each reservation reaches. margin: renew when fewer than this many
  // fences are left below the mark — more than one batch of the server can hand out.
  FenceReservation(std::uint64_t block, std::uint64_t margin) : block_(block), margin_(margin) {}

  // The first fence to hand out after a restart: above every fence the files name, above the
  // last reservation, and not below the Unix time in µs (the counter's normal start).
  static std::uint64_t first_fence(std::uint64_t reserved, std::uint64_t max_seen,
                                   std::uint64_t unix_us) {
    std::uint64_t f = unix_us;
    if (reserved + 1 > f) f = reserved + 1;
    if (max_seen + 1 > f) f = max_seen + 1;
    return f;
  }

  // True when `next_fence` (the next one the engine will hand out) is too close to the mark.
  bool needs_renewal(std::uint64_t next_fence) const { return next_fence + margin_ > reserved_; }
  // The new mark to write for `next_fence`; remember it with set_reserved() once it is durable.
  std::uint64_t next_mark(std::uint64_t next_fence) const { return next_fence + block_; }
  void set_reserved(std::uint64_t mark) {
    if (mark > reserved_) reserved_ = mark;
  }
  std::uint64_t reserved() const { return reserved_; }

 private:
  std::uint64_t block_;
  std::uint64_t margin_;
  std::uint64_t reserved_ = 0;
};

}  // namespace semlock::persist
