// Replay time of a journal of a given size: what a restart costs before the lock port listens.
//
//   persist_replay_bench [MiB] [runs]        (defaults: 64 MiB, 5 runs)
//
// Writes DIR/journal.log (a fresh directory under /tmp, removed at the end) through the server's
// own JournalFile: holds of keys lock:NNNNNNNN (scrambled numbers) with 32-byte owners, each
// followed 100,000 records later by its drop (so ~100,000 holders are live at any point, as on a
// busy server), with deadlines far in the future. Then runs load_directory() `runs` times (the file
// is in the page cache after the first) and prints the best and the median, plus the CRC-32C
// throughput over the same bytes. Numbers are for comparison on one machine, not a test.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "persistence/files.h"
#include "persistence/loader.h"
#include "persistence/record.h"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// CPU time of this process (user + system), in ms: steadier than wall time on a shared machine.
double cpu_ms() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
}

semlock::persist::Record make(semlock::persist::RecordType type, std::uint64_t i) {
  // Key names in a scrambled order (a bijection of 0..99,999,999), as clients pick them.
  char key[32];
  std::snprintf(key, sizeof key, "lock:%08llu",
                static_cast<unsigned long long>((i * 48'271 + 12'345) % 100'000'000));
  semlock::persist::Record r;
  r.type = type;
  r.key = key;
  r.owner = std::string(32, static_cast<char>('a' + i % 26));
  r.fence = 1'000'000 + i;
  r.limit = 1;
  r.wall_deadline_ms = 4'102'444'800'000;  // 2100-01-01
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  namespace persist = semlock::persist;
  const std::uint64_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 64;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 5;
  char tmpl[] = "/tmp/semlock-replay-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  const std::string path = persist::join_path(dir, persist::kJournalName);

  std::uint64_t records = 0;
  {
    persist::JournalFile journal;
    if (journal.open(path, 0) != 0) return 1;
    std::string batch;
    constexpr std::uint64_t kLive = 100'000;
    for (std::uint64_t i = 0; journal.size() + batch.size() < mib << 20; ++i) {
      persist::encode_record(make(persist::RecordType::kHold, i), batch);
      ++records;
      if (i >= kLive) {
        persist::encode_record(make(persist::RecordType::kDrop, i - kLive), batch);
        ++records;
      }
      if (batch.size() > (1u << 20)) {
        if (journal.append(batch) != 0) return 1;
        batch.clear();
      }
    }
    if (journal.append(batch) != 0 || journal.sync() != 0) return 1;
  }
  std::string data;
  persist::read_whole_file(path, data);
  std::printf("journal: %.1f MiB, %llu records\n", static_cast<double>(data.size()) / (1 << 20),
              static_cast<unsigned long long>(records));

  std::vector<double> load_ms;
  std::vector<double> load_cpu_ms;
  std::size_t live = 0;
  for (int r = 0; r < runs; ++r) {
    const auto t0 = Clock::now();
    const double c0 = cpu_ms();
    const persist::LoadResult loaded = persist::load_directory(dir, 0, false);
    load_ms.push_back(ms_since(t0));
    load_cpu_ms.push_back(cpu_ms() - c0);
    if (!loaded.ok) {
      std::fprintf(stderr, "load failed: %s\n", loaded.error.c_str());
      return 1;
    }
    live = loaded.holders.size();
  }
  std::vector<double> crc_ms;
  std::uint32_t sink = 0;
  for (int r = 0; r < runs; ++r) {
    const auto t0 = Clock::now();
    sink ^= persist::crc32c(data);
    crc_ms.push_back(ms_since(t0));
  }
  // The table fallback (slicing-by-8), used where the CPU has no SSE4.2.
  std::vector<double> table_ms;
  const std::uint32_t want = persist::crc32c(data);
  for (int r = 0; r < runs; ++r) {
    const auto t0 = Clock::now();
    if (persist::crc32c_table(data) != want) return 1;
    table_ms.push_back(ms_since(t0));
  }
  std::sort(table_ms.begin(), table_ms.end());
  std::sort(load_ms.begin(), load_ms.end());
  std::sort(load_cpu_ms.begin(), load_cpu_ms.end());
  std::sort(crc_ms.begin(), crc_ms.end());
  const double mb = static_cast<double>(data.size()) / (1 << 20);
  std::printf(
      "load_directory: best %.1f ms, median %.1f ms wall; best %.1f ms, median %.1f ms CPU"
      " (%zu live holders)\n",
      load_ms[0], load_ms[load_ms.size() / 2], load_cpu_ms[0], load_cpu_ms[load_cpu_ms.size() / 2],
      live);
  std::printf("crc32c alone:   best %.1f ms = %.0f MiB/s (check %08x)\n", crc_ms[0],
              mb / (crc_ms[0] / 1000.0), sink);
  std::printf("crc32c table:   best %.1f ms = %.0f MiB/s (SSE4.2 in use: %s)\n", table_ms[0],
              mb / (table_ms[0] / 1000.0), persist::crc32c_hardware_available() ? "yes" : "no");
  std::filesystem::remove_all(dir);
  return 0;
}
