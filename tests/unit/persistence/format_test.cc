// Format 2 (file headers, frame headers with their own check) against format 1, damage that
// must refuse start-up against a torn tail that is cut, keys over their limit, and the files
// a snapshot that did not finish leaves (journal.prev chaining, fresh journals).
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "persistence/files.h"
#include "persistence/loader.h"
#include "tests/unit/persistence/helpers.h"

namespace semlock::persist {
namespace {

using test::TempDir;
using test::write_file;

constexpr std::int64_t kFar = 4102444800000;  // 2100-01-01

Record hold(std::string key, std::string owner, std::uint64_t fence, std::uint32_t limit = 1,
            std::int64_t deadline = kFar) {
  Record r;
  r.type = RecordType::kHold;
  r.key = std::move(key);
  r.owner = std::move(owner);
  r.fence = fence;
  r.limit = limit;
  r.wall_deadline_ms = deadline;
  return r;
}

Record drop(std::string key, std::string owner, std::uint64_t fence) {
  Record r = hold(std::move(key), std::move(owner), fence);
  r.type = RecordType::kDrop;
  return r;
}

// 3,000 holds of keys of varied lengths (as a busy server writes them), in format `version`.
// `starts` gets each record's offset in the file.
std::string long_journal(std::uint32_t version, std::vector<std::size_t>& starts) {
  std::string j = version == kFormatVersion ? file_header(kJournalMagic) : std::string();
  for (std::uint64_t i = 0; i < 3000; ++i) {
    starts.push_back(j.size());
    const Record r = hold("lock:" + std::to_string(i) + std::string(i % 17, 'x'), "w", 100 + i);
    if (version == kFormatVersion) {
      encode_record(r, j);
    } else {
      encode_record_v1(r, j);
    }
  }
  return j;
}

// The record that starts about 40 KB before the end of `j`.
std::size_t near_the_end(const std::string& j, const std::vector<std::size_t>& starts) {
  return *std::lower_bound(starts.begin(), starts.end(), j.size() - 40 * 1024);
}

std::string fixture(const char* name) {
  return std::string(SEMLOCK_PERSIST_FIXTURES) + "/" + name;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(format)

// Issue 11 #6: one flipped bit in the length field of a record ~40 KB before the end of a
// journal of 3,000 records. Format 1 (today's files) could not tell it from a torn tail and cut
// everything after it without a word of damage; format 2 refuses start-up naming the offset.
BOOST_AUTO_TEST_CASE(a_flipped_length_bit_in_a_middle_record_refuses_start_up) {
  std::vector<std::size_t> starts;
  const std::string j = long_journal(kFormatVersion, starts);
  const std::size_t at = near_the_end(j, starts);
  const auto index =
      static_cast<std::size_t>(std::lower_bound(starts.begin(), starts.end(), at) - starts.begin());
  BOOST_TEST_REQUIRE(index > 1000u);
  BOOST_TEST_REQUIRE(index < 2990u);
  for (int bit = 0; bit < 32; ++bit) {
    TempDir dir;
    std::string damaged = j;
    damaged[at + static_cast<std::size_t>(bit / 8)] ^= static_cast<char>(1 << (bit % 8));
    write_file(dir.file(kJournalName), damaged);
    LoadResult r = load_directory(dir.path, 0, false);
    BOOST_TEST(!r.ok, "bit " << bit);
    BOOST_TEST(r.error == "Journal is damaged: bad record (record header checksum mismatch) in " +
                              dir.file(kJournalName) + " at offset " + std::to_string(at) +
                              ", followed by " + std::to_string(j.size() - at) +
                              " more bytes; refusing to start. Start with --repair-journal to "
                              "cut the journal there (the records after it are lost)");
    r = load_directory(dir.path, 0, true);
    BOOST_TEST(r.ok);
    BOOST_TEST(r.journal_valid_bytes == at);
    BOOST_TEST(r.holders.size() == index);
    BOOST_TEST_REQUIRE(r.warnings.size() == 1u);
    BOOST_TEST(r.warnings[0].find("Journal repaired (--repair-journal)") == 0u);
  }
  // The same damage in format 1: some flips make the length reach past the end of the file and
  // the record is taken for a torn tail, silently losing every record after it.
  std::vector<std::size_t> starts1;
  const std::string j1 = long_journal(kLegacyFormatVersion, starts1);
  const std::size_t at1 = near_the_end(j1, starts1);
  std::string damaged1 = j1;
  damaged1[at1 + 2] ^= 0x01;  // +65,536 bytes: past the end, under the largest valid payload
  ReplayState s;
  const JournalScan scan = scan_journal("journal.log", damaged1, false, s);
  BOOST_TEST(scan.ok);
  BOOST_TEST(scan.valid_bytes == at1);
  BOOST_TEST(scan.warnings.at(0).find("Journal ends in a torn record") == 0u);
}

BOOST_AUTO_TEST_CASE(a_truncated_last_record_of_a_long_journal_is_still_a_torn_tail) {
  std::vector<std::size_t> starts;
  const std::string j = long_journal(kFormatVersion, starts);
  const std::size_t last = starts.back();
  for (std::size_t cut = last + 1; cut < j.size(); ++cut) {
    ReplayState s;
    const JournalScan scan =
        scan_journal("journal.log", std::string_view(j).substr(0, cut), false, s);
    BOOST_TEST(scan.ok);
    BOOST_TEST(scan.valid_bytes == last);
    BOOST_TEST(s.size() == 2999u);
    BOOST_TEST_REQUIRE(scan.warnings.size() == 1u);
    BOOST_TEST(scan.warnings[0].find("Journal ends in a torn record") == 0u);
  }
  // A bad frame header with only zeros after it, or a zero-filled tail: torn too.
  std::string zeros = j.substr(0, last) + std::string(j, last, 5) + std::string(4096, '\0');
  ReplayState s;
  JournalScan scan = scan_journal("journal.log", zeros, false, s);
  BOOST_TEST(scan.ok);
  BOOST_TEST(scan.valid_bytes == last);
  // A bad payload in the last record (its frame header good): torn. Followed by a good record:
  // damage.
  std::string bad_last = j;
  bad_last.back() ^= 0x20;
  ReplayState s2;
  scan = scan_journal("journal.log", bad_last, false, s2);
  BOOST_TEST(scan.ok);
  BOOST_TEST(scan.valid_bytes == last);
  std::string bad_middle = j;
  bad_middle[starts[2000] + kFrameHeaderBytes + 3] ^= 0x20;
  ReplayState s3;
  scan = scan_journal("journal.log", bad_middle, false, s3);
  BOOST_TEST(!scan.ok);
  BOOST_TEST(scan.error.find("(checksum mismatch) in journal.log at offset " +
                             std::to_string(starts[2000])) != std::string::npos);
}

// Files written by the format-1 code (committed under fixtures/format1) still load.
BOOST_AUTO_TEST_CASE(format1_fixture_restores) {
  TempDir dir;
  for (const char* name : {kSnapshotName, kJournalPrevName, kJournalName}) {
    std::filesystem::copy_file(fixture((std::string("format1/") + name).c_str()), dir.file(name));
  }
  const LoadResult r = load_directory(dir.path, 1'800'000'000'000, false);
  BOOST_TEST_REQUIRE(r.ok, r.error);
  std::vector<std::string> got;
  for (const PersistedHolder& h : r.holders) {
    got.push_back(h.key + "/" + h.owner + "@" + std::to_string(h.fence) + " limit " +
                  std::to_string(h.limit));
  }
  BOOST_TEST(got == (std::vector<std::string>{
                        "fixture:mutex/owner-a@1000 limit 1", "fixture:sem/s1@1001 limit 3",
                        "fixture:sem/s2@1002 limit 3", "fixture:prev/p@1004 limit 1",
                        "fixture:sem/s3@1005 limit 3"}),
             boost::test_tools::per_element());
  BOOST_TEST(r.holders[0].wall_deadline_ms == kFar + 1);  // the refresh in journal.log
  BOOST_TEST(r.dropped_expired == 1u);
  BOOST_TEST(r.max_fence == 3'000'000u);
  BOOST_TEST(r.reserved_fence == 3'000'000u);
  BOOST_TEST(r.legacy_files.size() == 3u);
  BOOST_TEST(r.journal_prev);
  BOOST_TEST(r.needs_rewrite());
  BOOST_TEST_REQUIRE(r.warnings.size() == 1u);
  BOOST_TEST(r.warnings[0].find("Journal ends in a torn record") == 0u);
}

BOOST_AUTO_TEST_CASE(an_unknown_format_version_refuses_start_up_even_with_repair) {
  TempDir dir;
  std::string j = file_header(kJournalMagic, 7);
  encode_record(hold("a", "o", 1), j);
  write_file(dir.file(kJournalName), j);
  for (const bool repair : {false, true}) {
    const LoadResult r = load_directory(dir.path, 0, repair);
    BOOST_TEST(!r.ok);
    BOOST_TEST(r.error == "Journal " + dir.file(kJournalName) +
                              " has an unknown format version 7 (this build reads 1 to 3); "
                              "refusing to start. It was written by a newer ttl-semlock: run "
                              "that one");
  }
  std::filesystem::remove(dir.file(kJournalName));
  write_file(dir.file(kSnapshotName), file_header(kSnapshotMagic, 4));
  const LoadResult r = load_directory(dir.path, 0, true);
  BOOST_TEST(!r.ok);
  BOOST_TEST(r.error == "Snapshot " + dir.file(kSnapshotName) +
                            " has an unknown format version 4 (this build reads 1 to 3); "
                            "refusing to start. It was written by a newer ttl-semlock: run that "
                            "one");
}

BOOST_AUTO_TEST_CASE(a_journal_header_cut_short_starts_anew) {
  TempDir dir;
  write_file(dir.file(kJournalName), file_header(kJournalMagic).substr(0, 5));
  const LoadResult r = load_directory(dir.path, 0, false);
  BOOST_TEST(r.ok);
  BOOST_TEST(r.journal_valid_bytes == 0u);
  BOOST_TEST(r.warnings.size() == 1u);
  JournalFile f;
  BOOST_TEST(f.open(dir.file(kJournalName), r.journal_valid_bytes) == 0);
  std::string data;
  read_whole_file(dir.file(kJournalName), data);
  BOOST_TEST(data == file_header(kJournalMagic));
}

// Issue 11 #2 (restore half): a journal that names two holders on a mutex (as a skipped drop
// record left it) never restores both: start-up is refused naming the key; --repair-journal
// keeps the lowest fence and says what it dropped.
BOOST_AUTO_TEST_CASE(a_state_over_a_keys_limit_is_refused_naming_the_key) {
  TempDir dir;
  std::string j = file_header(kJournalMagic);
  encode_record(hold("job", "w1", 10), j);
  encode_record(hold("sem", "a", 11, 2), j);
  encode_record(hold("job", "w2", 12), j);
  encode_record(hold("sem", "b", 13, 2), j);
  encode_record(hold("sem", "c", 14, 2), j);
  encode_record(hold("other", "x", 15), j);
  write_file(dir.file(kJournalName), j);
  LoadResult r = load_directory(dir.path, 0, false);
  BOOST_TEST(!r.ok);
  BOOST_TEST(r.error ==
             "Persisted state is over a key's limit: key \"job\" (limit 1) has 2 holders "
             "(\"w1\" fence 10 limit 1, \"w2\" fence 12 limit 1) (and 1 more keys); refusing to "
             "start. Start with --repair-journal to keep the lowest fences of each such key (the "
             "other holders are dropped)");
  r = load_directory(dir.path, 0, true);
  BOOST_TEST_REQUIRE(r.ok);
  std::vector<std::uint64_t> fences;
  for (const PersistedHolder& h : r.holders) fences.push_back(h.fence);
  BOOST_TEST(fences == (std::vector<std::uint64_t>{10, 11, 13, 15}),
             boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(r.repaired_drops.size() == 2u);
  BOOST_TEST(r.repaired_drops[0].owner == "w2");
  BOOST_TEST(r.repaired_drops[1].owner == "c");
  BOOST_TEST_REQUIRE(r.warnings.size() == 2u);
  BOOST_TEST(r.warnings[0] ==
             "Journal repaired (--repair-journal): key \"job\" (limit 1) has 2 holders (\"w1\" "
             "fence 10 limit 1, \"w2\" fence 12 limit 1); kept fence 10, dropped \"w2\" fence 12 "
             "limit 1");
  // Holders recorded with another limit than the key's lowest fence are over it too.
  std::string k = file_header(kJournalMagic);
  encode_record(hold("mixed", "a", 20, 5), k);
  encode_record(hold("mixed", "b", 21, 1), k);
  write_file(dir.file(kJournalName), k);
  r = load_directory(dir.path, 0, false);
  BOOST_TEST(!r.ok);
  BOOST_TEST(r.error.find("key \"mixed\" (limit 5) has 2 holders") != std::string::npos);
  // Released and expired holders do not count.
  encode_record(drop("mixed", "b", 21), k);
  encode_record(hold("gone", "a", 22, 1, 5), k);
  encode_record(hold("gone", "b", 23, 1), k);
  write_file(dir.file(kJournalName), k);
  r = load_directory(dir.path, 1000, false);
  BOOST_TEST(r.ok, r.error);
  BOOST_TEST(r.holders.size() == 2u);
}

// Issue 11 #5 (files half): a snapshot started while an earlier one's journal.prev is there
// appends journal.log to it, so both histories load, in order.
BOOST_AUTO_TEST_CASE(chaining_into_journal_prev_keeps_both_histories_in_order) {
  TempDir dir;
  std::string prev = file_header(kJournalMagic);
  encode_record(hold("a", "o", 1), prev);
  encode_record(hold("b", "o", 2), prev);
  write_file(dir.file(kJournalPrevName), prev);
  JournalFile log;
  BOOST_TEST_REQUIRE(log.open(dir.file(kJournalName), 0) == 0);
  std::string more;
  encode_record(drop("a", "o", 1), more);
  encode_record(hold("c", "o", 3), more);
  BOOST_TEST_REQUIRE(log.append(more) == 0);
  BOOST_TEST(chain_journal_into_prev(dir.path) == 0);
  std::string data;
  read_whole_file(dir.file(kJournalPrevName), data);
  BOOST_TEST(data == prev + more);
  // Replaying journal.log again after it (a crash before it was emptied) changes nothing.
  LoadResult r = load_directory(dir.path, 0, false);
  BOOST_TEST_REQUIRE(r.ok);
  BOOST_TEST(r.holders.size() == 2u);
  BOOST_TEST(log.reset() == 0);
  r = load_directory(dir.path, 0, false);
  BOOST_TEST(r.holders.size() == 2u);
  BOOST_TEST(r.holders[0].key == "b");
  BOOST_TEST(r.holders[1].key == "c");
  // Only format-2 journals are chained.
  write_file(dir.file(kJournalPrevName), "");
  BOOST_TEST(chain_journal_into_prev(dir.path) == EINVAL);
}

BOOST_AUTO_TEST_CASE(write_fresh_journal_replaces_journal_log) {
  TempDir dir;
  std::string v1;
  encode_record_v1(hold("a", "o", 1), v1);
  write_file(dir.file(kJournalName), v1);
  BOOST_TEST(write_fresh_journal(dir.path) == 0);
  std::string data;
  read_whole_file(dir.file(kJournalName), data);
  BOOST_TEST(data == file_header(kJournalMagic));
  BOOST_TEST(!std::filesystem::exists(dir.file(kJournalTmpName)));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace semlock::persist
