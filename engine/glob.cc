// Redis's stringmatchlen (util.c), case-sensitive, over string_views: `*`, `?`, `[...]` with
// ranges, `^` negation and `\` escapes, and `\x` outside brackets. Where Redis reads the C
// string's terminating NUL past the end of the pattern, this reads nothing and behaves as if it
// had found a NUL. Bytes compare as unsigned.
#include <utility>

#include "engine/engine.h"

namespace semlock {

namespace {

struct Matcher {
  const unsigned char* p;
  const unsigned char* s;
  bool skip_longer = false;

  bool match(std::size_t pi, std::size_t plen, std::size_t si, std::size_t slen, int nesting) {
    if (nesting > 1000) return false;  // Redis's guard against abusive patterns
    while (plen > 0 && slen > 0) {
      switch (p[pi]) {
        case '*': {
          while (plen > 1 && p[pi + 1] == '*') {
            ++pi;
            --plen;
          }
          if (plen == 1) return true;
          while (slen > 0) {
            if (match(pi + 1, plen - 1, si, slen, nesting + 1)) return true;
            if (skip_longer) return false;
            ++si;
            --slen;
          }
          // Nothing matched the rest from any later position: earlier stars cannot help.
          skip_longer = true;
          return false;
        }
        case '?':
          ++si;
          --slen;
          break;
        case '[': {
          ++pi;
          --plen;
          bool negate = plen > 0 && p[pi] == '^';
          if (negate) {
            ++pi;
            --plen;
          }
          bool hit = false;
          while (true) {
            if (plen == 0) {
              // Unterminated class: Redis steps back so the loop's advance lands on the end.
              --pi;
              ++plen;
              break;
            }
            if (p[pi] == '\\' && plen >= 2) {
              ++pi;
              --plen;
              if (p[pi] == s[si]) hit = true;
            } else if (p[pi] == ']') {
              break;
            } else if (plen >= 3 && p[pi + 1] == '-') {
              unsigned char lo = p[pi];
              unsigned char hi = p[pi + 2];
              if (lo > hi) std::swap(lo, hi);
              if (s[si] >= lo && s[si] <= hi) hit = true;
              pi += 2;
              plen -= 2;
            } else if (p[pi] == s[si]) {
              hit = true;
            }
            ++pi;
            --plen;
          }
          if (negate) hit = !hit;
          if (!hit) return false;
          ++si;
          --slen;
          break;
        }
        case '\\':
          if (plen >= 2) {
            ++pi;
            --plen;
          }
          [[fallthrough]];
        default:
          if (p[pi] != s[si]) return false;
          ++si;
          --slen;
          break;
      }
      ++pi;
      --plen;
      if (slen == 0) {
        while (plen > 0 && p[pi] == '*') {
          ++pi;
          --plen;
        }
        break;
      }
    }
    return plen == 0 && slen == 0;
  }
};

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) {
  Matcher m{reinterpret_cast<const unsigned char*>(pattern.data()),
            reinterpret_cast<const unsigned char*>(text.data())};
  return m.match(0, pattern.size(), 0, text.size(), 0);
}

}  // namespace semlock
