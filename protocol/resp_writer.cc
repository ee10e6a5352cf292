#include "protocol/resp_writer.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace semlock::resp {
namespace {

void append_crlf(std::string& out) {
  out.append("\r\n", 2);
}

// Redis 7.2 formats doubles as the shortest text that reads back to the same value
// (fpconv_dtoa), and spells the special values "inf", "-inf" and "nan".
std::string_view format_double(double v, char (&buf)[32]) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  return {buf, static_cast<std::size_t>(res.ptr - buf)};
}

}  // namespace

Writer::Writer(std::string& out, int proto) : out_(&out), proto_(proto) {}

// One append per header: type byte, number and CRLF are formatted on the stack first.
void Writer::header(char type, std::int64_t n) {
  if (over_limit()) return;
  fit(kMaxHeader);
  char buf[24];
  buf[0] = type;
  char* end = std::to_chars(buf + 1, buf + sizeof buf - 2, n).ptr;
  end[0] = '\r';
  end[1] = '\n';
  out_->append(buf, static_cast<std::size_t>(end + 2 - buf));
}

// Status and error lines cannot carry CR or LF (Redis replaces them in addReplyErrorLength;
// we drop them, which keeps the line intact for the client).
void Writer::stripped(char type, std::string_view s) {
  if (over_limit()) return;
  fit(s.size() + 3);
  out_->push_back(type);
  if (s.find_first_of("\r\n") == std::string_view::npos) {
    out_->append(s);  // the common case: nothing to strip
  } else {
    for (const char c : s) {
      if (c != '\r' && c != '\n') out_->push_back(c);
    }
  }
  append_crlf(*out_);
}

void Writer::simple(std::string_view s) {
  stripped('+', s);
}

void Writer::error(std::string_view s) {
  stripped('-', s);
}

void Writer::integer(std::int64_t v) {
  header(':', v);
}

void Writer::bulk(std::string_view s) {
  if (over_limit()) return;
  fit(kMaxHeader + s.size() + 2);
  header('$', static_cast<std::int64_t>(s.size()));
  out_->append(s);
  append_crlf(*out_);
}

void Writer::null() {
  if (over_limit()) return;
  fit(5);
  if (proto_ >= 3) {
    out_->append("_\r\n", 3);
  } else {
    out_->append("$-1\r\n", 5);
  }
}

void Writer::null_array() {
  if (over_limit()) return;
  fit(5);
  if (proto_ >= 3) {
    out_->append("_\r\n", 3);
  } else {
    out_->append("*-1\r\n", 5);
  }
}

void Writer::array(std::size_t n) {
  header('*', static_cast<std::int64_t>(n));
}

void Writer::map(std::size_t n) {
  if (proto_ >= 3) {
    header('%', static_cast<std::int64_t>(n));
  } else {
    header('*', static_cast<std::int64_t>(2 * n));
  }
}

void Writer::set(std::size_t n) {
  header(proto_ >= 3 ? '~' : '*', static_cast<std::int64_t>(n));
}

void Writer::dbl(double v) {
  if (over_limit()) return;
  char buf[32];
  const std::string_view text = format_double(v, buf);
  if (proto_ >= 3) {
    fit(text.size() + 3);
    out_->push_back(',');
    out_->append(text);
    append_crlf(*out_);
  } else {
    bulk(text);
  }
}

void Writer::boolean(bool v) {
  if (over_limit()) return;
  fit(4);
  if (proto_ >= 3) {
    out_->append(v ? "#t\r\n" : "#f\r\n", 4);
  } else {
    out_->append(v ? ":1\r\n" : ":0\r\n", 4);
  }
}

void Writer::verbatim(std::string_view s) {
  if (over_limit()) return;
  if (proto_ >= 3) {
    fit(kMaxHeader + 4 + s.size() + 2);
    header('=', static_cast<std::int64_t>(s.size() + 4));
    out_->append("txt:", 4);
    out_->append(s);
    append_crlf(*out_);
  } else {
    bulk(s);
  }
}

void Writer::raw(std::string_view bytes) {
  if (over_limit()) return;
  fit(bytes.size());
  out_->append(bytes);
}

// The buffer is full: grow it as std::string would (doubling), except that a bounded reply never
// takes much more than its bound and one element beyond: doubling would otherwise make a reply just
// past half of server.max_reply_bytes hold twice the bound, and that memory counts against
// server.max_client_memory_mb (an EXEC answered at the bound once got its client closed for it).
void Writer::grow(std::size_t n) {
  const std::size_t need = out_->size() + n;
  const std::size_t cap = out_->capacity();
  std::size_t want = std::max(need, 2 * cap);
  if (limit_end_ != kNoLimit) {
    // Never in steps under an eighth: a bound that moves up a little at a time (EXEC narrows it
    // for each command) must not make every append copy the whole buffer. So a bounded buffer
    // ends within 9/8 of its bound and one element, and growing stays amortized O(1).
    want = std::max(need, std::min(want, std::max(limit_end_ + kLimitSlack, need + cap / 8)));
  }
  // Built anew: libstdc++'s reserve() would round a request below twice the capacity up to it.
  std::string grown;
  grown.reserve(want);
  grown.append(*out_);
  out_->swap(grown);
}

}  // namespace semlock::resp
