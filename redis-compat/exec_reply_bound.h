// server.max_reply_bytes inside EXEC: the bound holds for the whole transaction reply, but each
// command is answered on its own, since every queued command that ran has had its effect.
#pragma once

#include <cstddef>
#include <string_view>

#include "protocol/resp_writer.h"

namespace semlock::redis {

class ExecReplyBound {
 public:
  static constexpr std::string_view kTooLarge = "ERR reply too large";

  // `w` has the EXEC array header written and the request's bound (if any) set.
  ExecReplyBound(resp::Writer& w, std::size_t commands) : w_(w), left_(commands) {
    const std::size_t room = w.room();
    bounded_ = room != static_cast<std::size_t>(-1);
    if (!bounded_) return;
    end_ = w.out().size() + room;
    // When it fits, room is kept for every command to answer at least that it did not run.
    reserve_ = commands <= room / kStopMax;
  }

  // Before a command runs: false when even its error would not fit (it must not run).
  bool begin_command() {
    if (left_ > 0) --left_;  // now: the commands after this one
    if (!bounded_) return true;
    before_ = w_.out().size();
    const std::size_t tail = reserve_ ? left_ * kStopMax : 0;
    if (before_ + tail + kTooLargeBytes > end_) return false;
    w_.limit_reply(end_ - tail - before_);
    return true;
  }

  // After it ran: a reply past its room is cut back to that command's own error.
  void end_command() {
    if (!bounded_) return;
    if (w_.over_limit()) {
      w_.out().resize(before_);
      w_.clear_limit();
      w_.error(kTooLarge);
    }
    restore();
  }

  // A command that did not run says so, whatever room is left (kept for it when possible). The
  // bound is widened by the line, not lifted, so the buffer grows by the line and not to twice
  // its size (resp::Writer::grow()).
  void write_unbounded(std::string_view error) {
    if (bounded_) w_.limit_reply(error.size() + 3);
    w_.error(error);
    if (bounded_) restore();
  }

  // Hands the request's bound back, never over it for what was answered here.
  void finish() {
    if (bounded_) restore();
  }

 private:
  // "-ERR transaction stopped after <n> ms; this command did not run\r\n", n of up to 20 digits.
  static constexpr std::size_t kStopMax =
      std::string_view("-ERR transaction stopped after  ms; this command did not run\r\n").size() +
      20;
  static constexpr std::size_t kTooLargeBytes = kTooLarge.size() + 3;

  void restore() {
    const std::size_t size = w_.out().size();
    w_.limit_reply(size < end_ ? end_ - size : 0);
  }

  resp::Writer& w_;
  std::size_t left_;
  bool bounded_ = false;
  bool reserve_ = false;
  std::size_t end_ = 0;
  std::size_t before_ = 0;
};

}  // namespace semlock::redis
