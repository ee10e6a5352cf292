// BufferPool: connection buffers reused across requests, bounded in count and in bytes.
#include "server/buffer_pool.h"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(buffer_pool)

BOOST_AUTO_TEST_CASE(a_given_buffer_comes_back_with_its_capacity) {
  semlock::BufferPool pool;
  std::string s(1000, 'x');
  const std::size_t cap = s.capacity();
  pool.give(s);
  BOOST_TEST(s.capacity() < cap);  // moved out: the caller keeps nothing
  BOOST_TEST(pool.size() == 1u);
  BOOST_TEST(pool.bytes() == cap);
  std::string t = pool.take();
  BOOST_TEST(t.empty());
  BOOST_TEST(t.capacity() == cap);
  BOOST_TEST(pool.bytes() == 0u);
  BOOST_TEST(pool.take().capacity() < 100u);  // an empty pool hands out a fresh string
}

// Regression (issue 18): the pool kept up to 256 buffers of up to 64 KB whatever their size, so
// a pipelined burst (a 1,000,000-lock fill) left ~8 MB of pooled buffers in the RSS for good.
BOOST_AUTO_TEST_CASE(pooled_bytes_stay_under_the_cap_after_a_burst_of_large_buffers) {
  semlock::BufferPool pool;
  std::vector<std::string> burst;
  for (int i = 0; i < 256; ++i) burst.emplace_back(60 * 1024, 'x');
  for (std::string& s : burst) pool.give(s);
  BOOST_TEST(pool.bytes() <= semlock::BufferPool::kMaxBytes);
  BOOST_TEST(pool.bytes() >= semlock::BufferPool::kMaxBytes - 64 * 1024);
  BOOST_TEST(pool.size() < 20u);
  // Small buffers still pool up to the count cap.
  semlock::BufferPool small;
  std::vector<std::string> many;
  for (int i = 0; i < 300; ++i) many.emplace_back(200, 'x');
  for (std::string& s : many) small.give(s);
  BOOST_TEST(small.size() == semlock::BufferPool::kMaxCount);
}

BOOST_AUTO_TEST_CASE(buffers_over_the_size_cap_are_freed) {
  semlock::BufferPool pool;
  std::string big(semlock::BufferPool::kMaxBuffer + 1, 'x');
  pool.give(big);
  BOOST_TEST(pool.size() == 0u);
  BOOST_TEST(big.capacity() < 100u);
}

// Regression (issue 18): the server asked for a pooled reply buffer only when its buffer had no
// capacity, and an empty std::string always has its inline 15 bytes, so no reply buffer ever came
// from the pool: every pipelined batch grew a fresh one (15, 30, 60, 120 bytes: three mallocs and
// copies for 16 short replies) and the pool filled with buffers nobody took back.
BOOST_AUTO_TEST_CASE(a_fresh_or_given_back_string_is_filled_from_the_pool) {
  semlock::BufferPool pool;
  BOOST_TEST(semlock::BufferPool::bare(std::string()));
  std::string grown(200, 'x');
  const std::size_t cap = grown.capacity();
  pool.give(grown);
  BOOST_TEST(semlock::BufferPool::bare(grown));
  std::string out;  // a connection's reply buffer before its first reply
  pool.fill(out);
  BOOST_TEST(out.capacity() == cap);
  BOOST_TEST(pool.size() == 0u);
  // A buffer that has capacity of its own keeps it; an empty pool leaves a bare one as it is.
  std::string other(300, 'y');
  pool.give(out);
  pool.fill(other);
  BOOST_TEST(other.size() == 300u);
  BOOST_TEST(pool.size() == 1u);
  semlock::BufferPool empty;
  std::string bare;
  empty.fill(bare);
  BOOST_TEST(semlock::BufferPool::bare(bare));
}

// Regression (review of the above): fill() swapped any bare string, so a short reply still
// waiting in a connection's inline buffer ("+PONG\r\n" behind a blocked acquire) was dropped when
// the connection's buffer was filled again before the write, and every later reply was off by one.
BOOST_AUTO_TEST_CASE(a_bare_string_holding_bytes_keeps_them) {
  semlock::BufferPool pool;
  std::string grown(200, 'x');
  pool.give(grown);
  std::string out = "+PONG\r\n";
  BOOST_TEST(semlock::BufferPool::bare(out));
  pool.fill(out);
  BOOST_TEST(out == "+PONG\r\n");
  BOOST_TEST(pool.size() == 1u);
}

BOOST_AUTO_TEST_CASE(bare_strings_are_not_pooled) {
  semlock::BufferPool pool;
  std::string s;
  pool.give(s);
  std::string t = "short";
  pool.give(t);
  BOOST_TEST(pool.size() == 0u);
  BOOST_TEST(pool.bytes() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
