// RESP2/RESP3 reply encoder. Appends to a caller-owned buffer so that a connection's output
// buffer grows once and is reused: no allocation per reply once it has warmed up.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace semlock::resp {

// Appends RESP replies to `out` (amortized: no allocation per reply). proto = 2 or 3.
class Writer {
 public:
  Writer(std::string& out, int proto);
  void simple(std::string_view s);    // +s\r\n  (\r\n stripped from s)
  void error(std::string_view s);     // -s\r\n  (s includes the code word; \r\n stripped)
  void integer(std::int64_t v);       // :v\r\n
  void bulk(std::string_view s);      // $len\r\ns\r\n
  void null();                        // $-1\r\n (RESP2) / _\r\n (RESP3)
  void null_array();                  // *-1\r\n (RESP2) / _\r\n (RESP3)
  void array(std::size_t n);          // *n\r\n
  void map(std::size_t n);            // %n\r\n (RESP3) / *2n\r\n (RESP2)
  void set(std::size_t n);            // ~n (RESP3) / *n (RESP2)
  void dbl(double v);                 // ,v (RESP3) / bulk string (RESP2), Redis's formatting
  void boolean(bool v);               // #t/#f (RESP3) / :1/:0 (RESP2)
  void verbatim(std::string_view s);  // =len\r\ntxt:s (RESP3) / bulk (RESP2)
  void raw(std::string_view bytes);   // already-encoded bytes
  int proto() const { return proto_; }
  void set_proto(int p) { proto_ = p; }
  std::string& out() { return *out_; }

  // Bounds the bytes the next reply may add to `out` (server.max_reply_bytes): once past, every
  // further append is dropped and over_limit() holds, so a reply that would be huge never is;
  // the caller then cuts `out` back and answers an error. At most one element overshoots.
  void limit_reply(std::size_t max_bytes) { limit_end_ = out_->size() + max_bytes; }
  void clear_limit() { limit_end_ = kNoLimit; }
  bool over_limit() const { return out_->size() > limit_end_; }
  // Bytes the current reply may still add before passing the bound (SIZE_MAX: unbounded), so a
  // command that destroys what it answers (a pop with a count) can refuse before it starts.
  std::size_t room() const {
    if (limit_end_ == kNoLimit) return kNoLimit;
    return out_->size() >= limit_end_ ? 0 : limit_end_ - out_->size();
  }
  // The encoded size of a bulk string of `len` bytes ($len\r\n...\r\n).
  static std::size_t bulk_size(std::size_t len) {
    std::size_t digits = 1;
    for (std::size_t v = len; v >= 10; v /= 10) ++digits;
    return len + digits + 5;
  }

 private:
  void header(char type, std::int64_t n);
  void stripped(char type, std::string_view s);
  // Makes room for `n` more bytes (see grow()); a compare when there is room.
  void fit(std::size_t n) {
    if (out_->capacity() - out_->size() < n) grow(n);
  }
  void grow(std::size_t n);

  static constexpr std::size_t kNoLimit = static_cast<std::size_t>(-1);
  static constexpr std::size_t kMaxHeader = 24;  // type byte, a 64-bit number, CRLF
  // Room past the bound for the error that replaces the reply.
  static constexpr std::size_t kLimitSlack = 64;
  std::string* out_;
  int proto_;
  std::size_t limit_end_ = kNoLimit;
};

}  // namespace semlock::resp
